package migrate

// ExportersViews are the statements creating the two views that fed the
// exporters table before schema version 11, for the benchmark that
// measures them against the writer's aggregation.
var ExportersViews = exportersViews
