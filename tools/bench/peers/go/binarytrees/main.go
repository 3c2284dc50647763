// binary-trees, Go, Weft peer: binarytrees N [T]. With T > 1 each depth's iterations
// are split over T goroutines (how many run at once is GOMAXPROCS).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"weftpeers/gcpause"
)

type tree struct{ l, r *tree }

func build(depth int) *tree {
	if depth == 0 {
		return &tree{}
	}
	l := build(depth - 1)
	r := build(depth - 1)
	return &tree{l, r}
}

func (t *tree) count() int {
	if t.l == nil {
		return 1
	}
	return 1 + t.l.count() + t.r.count()
}

func runRange(depth, from, to int) int {
	sum := 0
	for i := from; i < to; i++ {
		sum += build(depth).count()
	}
	return sum
}

func main() {
	n, workers := 10, 1
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		workers, _ = strconv.Atoi(os.Args[2])
	}
	if workers < 1 {
		workers = 1
	}
	const minDepth = 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	fmt.Printf("stretch tree of depth %d\t check: %d\n", maxDepth+1, build(maxDepth+1).count())
	longLived := build(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		total := 0
		if workers == 1 {
			total = runRange(d, 0, iters)
		} else {
			part := make([]int, workers)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					part[w] = runRange(d, iters*w/workers, iters*(w+1)/workers)
				}(w)
			}
			wg.Wait()
			for _, p := range part {
				total += p
			}
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters, d, total)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.count())
	gcpause.Report()
}
