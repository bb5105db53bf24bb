"""`nginx -t` in a throwaway container of an nginx image (a `Sandbox` without a network), with
the configs as `conf.d` files under the image's own stock `nginx.conf` (the way users load
them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from types import TracebackType
from typing import Self

from nginxgen.core.facts import CONF_D, NGINX_PREFIX, conf_d_name
from nginxgen.nginx.runner import ConfigFile, EngineRun
from nginxgen.nginx.sandbox import Container, Sandbox
from nginxgen.nginx.sandbox import docker_client as docker_client

# Long enough for the biggest configs' `nginx -t`; a hung one is stopped.
TEST_TIMEOUT_SECONDS = 60.0


class DockerEngine:
    """`nginx -t` in a throwaway container of `image`, configs in its `/etc/nginx/conf.d/`.

    Each `run_test` starts and removes its own container; inside `with DockerEngine(...)` the
    runs share one container (the files of a run are removed after it).
    """

    def __init__(self, image: str, *, pull: bool = True) -> None:
        self.image = image
        self.pull = pull
        self._sandbox: Sandbox | None = None
        self._container: Container | None = None

    @property
    def description(self) -> str:
        return f"Docker image {self.image}"

    def __enter__(self) -> Self:
        # No network, so the test neither depends on nor sends traffic anywhere (a literal
        # upstream host fails, as it would at startup).
        sandbox = self._sandbox = Sandbox("check", network=False, pull=self.pull)
        try:
            # The container only hosts `nginx -t` runs.
            self._container = sandbox.start(
                self.image, "nginx-t", entrypoint=["sleep"], command=["86400"]
            )
        except BaseException:
            self._sandbox = None
            sandbox.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        sandbox, self._sandbox, self._container = self._sandbox, None, None
        if sandbox is not None:
            sandbox.__exit__(exc_type, exc_value, traceback)

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun:
        if self._container is None:
            with self:
                return self.run_test(configs, files)
        config_paths = {f"{CONF_D}/{conf_d_name(config.name)}": config.name for config in configs}
        placed = dict(_config_bytes(configs))
        placed.update(
            {str(PurePosixPath(NGINX_PREFIX) / path): data for path, data in files.items()}
        )
        container = self._container
        container.put_files(placed)
        try:
            result = container.exec(["nginx", "-v", "-t"], timeout=TEST_TIMEOUT_SECONDS)
        finally:
            container.exec(["rm", "-f", "--", *placed])
        return EngineRun(result.exit_code, result.output, config_paths)


def _config_bytes(configs: Iterable[ConfigFile]) -> Iterable[tuple[str, bytes]]:
    for config in configs:
        yield f"{CONF_D}/{conf_d_name(config.name)}", config.text.encode("utf-8")
