"""The feature catalog: a static, searchable HTML site of every feature, built from the feature repo by CI."""
