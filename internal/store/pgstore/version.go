package pgstore

// LatestSchemaVersion is the schema version Open migrates a database to
// (what SchemaVersion reports afterwards): the number of migrations this
// code knows. The upgrade tests (internal/store/upgradetest) compare with
// it rather than with a number that changes with every migration.
func LatestSchemaVersion() int { return len(migrations) }
