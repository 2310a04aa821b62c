# Copyright (c) mmdecur contributors. All rights reserved.
__all__ = []
