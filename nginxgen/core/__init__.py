"""Facts and types every other part of nginxgen shares: the error types users see, nginx
version parsing and the minimum versions of the features nginxgen generates, Docker's and
nginx's fixed addresses and paths, and the comment markers the output carries.

May import nothing of nginxgen: this is the bottom layer.
"""
