"""Dagster orchestration of chokepoint: the only package that imports Dagster.

Assets are thin: read inputs, call the plain libraries (``chokepoint``, ``graph``,
``optimization``), return data plus metadata. The entry point is
:mod:`pipelines.definitions`.
"""
