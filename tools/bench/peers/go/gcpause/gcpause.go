// Package gcpause prints the Go runtime's own GC figures in the form run.py reads.
package gcpause

import (
	"fmt"
	"os"
	"runtime"
)

// Report writes gc-count, total-pause-ms and max-pause-ms to stderr. The maximum is
// taken over the last len(PauseNs) = 256 stop-the-world pauses the runtime keeps.
func Report() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	kept := int(ms.NumGC)
	if kept > len(ms.PauseNs) {
		kept = len(ms.PauseNs)
	}
	var worst uint64
	for _, p := range ms.PauseNs[:kept] {
		if p > worst {
			worst = p
		}
	}
	fmt.Fprintf(os.Stderr, "gc-count: %d\n", ms.NumGC)
	fmt.Fprintf(os.Stderr, "total-pause-ms: %.3f\n", float64(ms.PauseTotalNs)/1e6)
	fmt.Fprintf(os.Stderr, "max-pause-ms: %.3f\n", float64(worst)/1e6)
}
