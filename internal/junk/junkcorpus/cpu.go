package junkcorpus

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used (user and system, all
// threads). Speeds are reported per CPU second as well as per wall second
// because the comparison machine is shared: wall time counts the waits
// for a core that other work took, CPU time only the work.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
