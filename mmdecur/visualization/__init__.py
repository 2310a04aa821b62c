# Copyright (c) mmdecur contributors. All rights reserved.
"""Visualizers and vis backends (none of our own yet; MMEngine's are used)."""
