# Copyright (c) mmdecur contributors. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmdecur module so they are registered, and make
    ``'mmdecur'`` the default scope (needed by nested builds such as
    ``build_norm_layer(dict(type='GlobalBN'))`` outside a Runner).

    Args:
        init_default_scope (bool): Set the default scope to ``'mmdecur'``.
            Defaults to True.
    """
    import mmdecur.datasets  # noqa: F401,F403
    import mmdecur.engine  # noqa: F401,F403
    import mmdecur.evaluation  # noqa: F401,F403
    import mmdecur.models  # noqa: F401,F403

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmdecur':
        if current is not None:
            warnings.warn(f'The current default scope "{current.scope_name}"'
                          ' is not "mmdecur"; switching to a new "mmdecur" '
                          'scope.')
        name = f'mmdecur-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='mmdecur')
