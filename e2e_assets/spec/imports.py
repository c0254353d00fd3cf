"""Import the functions a journey names: ``module:function``, or a function of ``module:``.

A module name starting with ``.`` is relative to the journey's own folder (``.stages`` is the
``stages.py`` beside the journey file), so a journey folder is self-contained and never depends
on a top-level package name such as ``pipelines``. Under a Dagster project the component passes
the folder's real package (``my_project.defs.credit``); elsewhere the folder is imported as a
package of its own, named after its path, so ``from .stages import x`` works inside it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from e2e_assets.errors import SpecError
from e2e_assets.spec.lines import line_for

FOLDER_PACKAGE_PREFIX = "_e2e_journey_"


def folder_package(folder: Path) -> str:
    """The name of ``folder`` imported as a package (created once per process)."""
    folder = folder.resolve()
    name = FOLDER_PACKAGE_PREFIX + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        sys.modules[name] = importlib.util.module_from_spec(spec)
    return name


def import_module(name: str, *, file: Path, package: str | None = None) -> ModuleType:
    """``name``, relative names resolved against ``package`` or else the journey's folder."""
    if not name.startswith("."):
        return importlib.import_module(name)
    return importlib.import_module(name, package or folder_package(file.parent))


def import_function(module: str, ref: str, *, file: Path, loc: tuple[str, ...],
                    lines: Mapping[tuple[str, ...], int], package: str | None = None
                    ) -> Callable[..., Any]:
    """The callable ``ref`` names (``module:function`` or a function of ``module``); every
    failure a SpecError naming the file, field and line."""
    mod_name, _, attr = ref.rpartition(":") if ":" in ref else (module, ":", ref)
    field = ".".join(loc) if ":" in ref else "module"
    line = line_for(loc if ":" in ref else ("module",), lines)
    try:
        mod = import_module(mod_name, file=file, package=package)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if mod_name.startswith(".") and (missing.startswith(FOLDER_PACKAGE_PREFIX)
                                         or missing.endswith(mod_name)):
            reason = f"there is no {_beside(mod_name, file)}"
        else:
            hint = ("" if mod_name.startswith(".") or str(Path.cwd()) in sys.path
                    else " (run from your project root)")
            reason = f"{exc}{hint}"
        raise SpecError(f"cannot import module '{mod_name}': {reason}", file=str(file),
                        field=field, line=line) from exc
    except ImportError as exc:
        raise SpecError(f"cannot import module '{mod_name}': {exc}", file=str(file),
                        field=field, line=line) from exc
    except SyntaxError as exc:
        raise SpecError(f"cannot import module '{mod_name}': {exc.msg} at {exc.filename}:"
                        f"{exc.lineno}", file=str(file), field=field, line=line) from exc
    except (Exception, SystemExit) as exc:  # the module itself raised while importing
        raise SpecError(f"cannot import module '{mod_name}': importing it raised "
                        f"{type(exc).__name__}: {exc}", file=str(file), field=field,
                        line=line) from exc
    fn = getattr(mod, attr, None)
    line = line_for(loc, lines)
    if fn is None or not callable(fn):
        available = sorted(n for n, v in vars(mod).items()
                           if callable(v) and not n.startswith("_")
                           and getattr(v, "__module__", None) == mod.__name__)
        raise SpecError(f"module '{mod_name}' has no function '{attr}'; expected one of "
                        f"{available}", file=str(file), field=".".join(loc), line=line)
    return fn


def _beside(mod_name: str, file: Path) -> str:
    """The file a relative module name stands for."""
    levels = len(mod_name) - len(mod_name.lstrip("."))
    folder = file.parent.joinpath(*[".."] * (levels - 1)).resolve()
    return str(folder / (mod_name.lstrip(".").replace(".", "/") + ".py"))
