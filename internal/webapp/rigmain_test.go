package webapp_test

import (
	"os"
	"testing"

	"mailroom/internal/testrig"
)

// TestMain starts the PostgreSQL cluster the rigs need when
// MAILROOM_TEST_BACKEND=postgres.
func TestMain(m *testing.M) { os.Exit(testrig.Main(m)) }
