// Allocation rate, Go, Weft peer: allocate N (default 100M) 16-byte objects, keep the
// last 1000 in a ring (a global, so a root), read each evicted one. Prints
// "allocated N objects, checksum S" with S = N(N-1)/2; ns-per-alloc on stderr.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"weftpeers/gcpause"
)

type cell struct {
	value int64
	next  *cell
}

const keepN = 1000

var keep [keepN]*cell

func main() {
	n := int64(100000000)
	if len(os.Args) > 1 {
		n, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	var sum int64
	slot := 0
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		c := &cell{value: i}
		if old := keep[slot]; old != nil {
			sum += old.value
		}
		keep[slot] = c
		slot++
		if slot == keepN {
			slot = 0
		}
	}
	el := time.Since(t0)
	for _, c := range keep {
		if c != nil {
			sum += c.value
		}
	}
	fmt.Printf("allocated %d objects, checksum %d\n", n, sum)
	fmt.Fprintf(os.Stderr, "ns-per-alloc: %.3f\n", float64(el.Nanoseconds())/float64(n))
	gcpause.Report()
}
