"""Transform's code: ``preprocessing_fn`` (``preprocessing``) and a run of it outside a
pipeline (``standalone``), laid out as the Transform component lays out its outputs."""
