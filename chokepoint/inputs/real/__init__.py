"""Real public datasets: fetch, read, resolve entities, stage, merge over the reference data.

Pure Polars functions; :mod:`pipelines` wraps them in Dagster assets.

Modules
-------
``rawcsv``      raw source CSV reader (multi-line quoted fields, BOM, bad bytes, ragged rows)
``manifest``    the pinned file list (sha256, public origin) and where the real data is found
``countries``   country entity resolution: every spelling in every source → ISO3
``firms``       firm entity resolution: aliases across sources → one firm id
``eto``         ETO Advanced Semiconductor Supply Chain Dataset (inputs, sequence, providers, provision)
``epoch``       Epoch AI GPU clusters, ML hardware, AI chip counts
``usgs``        USGS Mineral Commodity Summaries (world production/reserves, US salient statistics)
``supply_map``  firm-level chip supply map (nodes, typed edges)
``atlas``       AI Chip Fab Atlas campuses (operator firm, country, status, coordinates)
``opensanctions`` government lists (US 1260H, NDAA 5949/889, BIS MIEU, China's countermeasures, EU 833 Annex IV)
                and their matching to firm ids
``sources``     each dataset's files → raw tables (one per source asset)
``quarantine``  splitting rows into staged and quarantined; per-file row accounting
``stage``       all real sources → canonical staging tables, quarantine and row accounting
``merge``       reference + real → the canonical tables the supply graph is built from
``fetch``       download the files from their public origins, verify sha256, cache

Every staged row carries its provenance: ``dataset``, ``file`` (path relative to the
data root, as in ``MANIFEST.csv``) and ``line`` (the line its record starts on, header =
line 1). Rows that cannot be staged land in the quarantine with a reason; none is
dropped silently.
"""
