"""The running proxy and test stacks through the Docker SDK. May import `core` and `nginx`."""
