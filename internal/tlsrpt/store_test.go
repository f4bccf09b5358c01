package tlsrpt

import (
	"os"
	"testing"

	"mailroom/internal/testrig/teststore"
)

// The tests keep shared files in a real store: SQLite by default,
// PostgreSQL with MAILROOM_TEST_BACKEND=postgres (teststore).
func TestMain(m *testing.M) { os.Exit(teststore.Main(m)) }
