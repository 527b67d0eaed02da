"""The package inventory: installed packages in every environment (dist-info, egg-info, conda-meta)."""
