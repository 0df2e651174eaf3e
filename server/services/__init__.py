"""Thin gRPC servicers: validate -> route -> call a backend -> return."""
