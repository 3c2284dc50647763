// Goroutine micro-benchmarks, Weft peer. Usage: threads MODE N
//   yield N      two goroutines each call runtime.Gosched N times   -> ns per yield
//   pingpong N   unbuffered channel ping-pong, N round trips         -> ns per round trip
//   spawnjoin N  N times: spawn a goroutine, wait for it to finish   -> ns per goroutine
//   alive N      spawn N goroutines that all stay blocked on a channel
//                -> ms until all are alive, resident bytes per blocked goroutine
//   xwake N      ping-pong between two goroutines locked to different OS threads
//                -> ns per wake (half a round trip)
//   idle S       GOMAXPROCS workers, every goroutine blocked for S seconds -> CPU %
// Every mode prints "RESULT name value unit" lines and "checksum: X" (see run.py).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func result(name string, v float64, unit string) { fmt.Printf("RESULT %s %.3f %s\n", name, v, unit) }

func residentKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "VmRSS:") {
			rest := strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(rest, "kB")), 10, 64)
			return v
		}
	}
	return 0
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func yield(n int) int64 {
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine int64
			for i := 0; i < n; i++ {
				runtime.Gosched()
				mine++
			}
			mu.Lock()
			total += mine
			mu.Unlock()
		}()
	}
	wg.Wait()
	result("yield", float64(time.Since(t0).Nanoseconds())/float64(2*n), "ns/yield")
	return total
}

func pingpong(n int, lock bool, name string, per float64, unit string) int64 {
	ping, pong := make(chan int64), make(chan int64)
	go func() {
		if lock {
			runtime.LockOSThread()
		}
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	if lock {
		runtime.LockOSThread()
	}
	var sum int64
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- int64(i)
		sum += <-pong
	}
	el := time.Since(t0)
	close(ping)
	result(name, float64(el.Nanoseconds())/(float64(n)*per), unit)
	return sum
}

func spawnjoin(n int) int64 {
	var sum int64
	done := make(chan struct{})
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int64) {
			sum += i
			done <- struct{}{}
		}(int64(i))
		<-done
	}
	result("spawn_join", float64(time.Since(t0).Nanoseconds())/float64(n), "ns/thread")
	return sum
}

func alive(n int) int64 {
	runtime.GC()
	rss0 := residentKiB()
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			done.Done()
		}()
	}
	started.Wait()
	el := time.Since(t0)
	rss1 := residentKiB()
	result("spawn_all_alive", float64(el.Nanoseconds())/1e6, "ms")
	result("blocked_thread_bytes", float64(rss1-rss0)*1024/float64(n), "B/thread")
	close(release)
	done.Wait()
	return int64(n)
}

func idle(seconds int) int64 {
	block := make(chan struct{})
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go func() { <-block }()
	}
	time.Sleep(100 * time.Millisecond)
	c0, t0 := cpuSeconds(), time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	c1, el := cpuSeconds(), time.Since(t0)
	close(block)
	result("idle_cpu", 100*(c1-c0)/el.Seconds(), "%")
	return 1
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: threads yield|pingpong|spawnjoin|alive|xwake|idle N")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[2])
	var sum int64
	switch os.Args[1] {
	case "yield":
		sum = yield(n)
	case "pingpong":
		sum = pingpong(n, false, "pingpong", 1, "ns/roundtrip")
	case "spawnjoin":
		sum = spawnjoin(n)
	case "alive":
		sum = alive(n)
	case "xwake":
		sum = pingpong(n, true, "cross_worker_wake", 2, "ns/wake")
	case "idle":
		sum = idle(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("checksum: %d\n", sum)
}
