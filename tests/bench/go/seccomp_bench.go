// seccomp_bench: the workloads of scripts/bench-seccomp.sh, with Go's own net package (raw
// system calls, so seccomp mode is the way in). Standard library only.
//
//	seccomp_bench serve PORTFILE SECONDS     net/http server on 127.0.0.1 answering "hello\n";
//	                                         the port goes to PORTFILE; stops after SECONDS
//	seccomp_bench get URL N keepalive|fresh P  N GETs by P goroutines at once, over keep-alive
//	                                         connections or each on a fresh one; exit 1 on an error
//	seccomp_bench syscalls N                 N getppid calls (never notified: the filter lets them
//	                                         through in the kernel); prints ns per call
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "seccomp_bench: "+format+"\n", a...)
	os.Exit(2)
}

func number(s string, max int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		die("%q: want a number 1..%d", s, max)
	}
	return n
}

func serve(portfile string, seconds int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("%v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	tmp := portfile + ".tmp"
	if os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o600) != nil || os.Rename(tmp, portfile) != nil {
		die("cannot write %s", portfile)
	}
	time.AfterFunc(time.Duration(seconds)*time.Second, func() { os.Exit(0) })
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello\n")
	}))
}

func get(url string, n int, keepalive bool, p int) {
	transport := &http.Transport{DisableKeepAlives: !keepalive, Proxy: nil, MaxIdleConnsPerHost: p}
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < p; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := client.Get(url)
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "seccomp_bench:", err)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	transport.CloseIdleConnections()
	if failed.Load() != 0 {
		os.Exit(1)
	}
}

func syscalls(n int) {
	start := time.Now()
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
	fmt.Printf("%.1f\n", float64(time.Since(start).Nanoseconds())/float64(n))
}

func main() {
	a := os.Args
	switch {
	case len(a) == 4 && a[1] == "serve":
		serve(a[2], number(a[3], 86400))
	case len(a) == 6 && a[1] == "get" && (a[4] == "keepalive" || a[4] == "fresh"):
		get(a[2], number(a[3], 10000000), a[4] == "keepalive", number(a[5], 1024))
	case len(a) == 3 && a[1] == "syscalls":
		syscalls(number(a[2], 1000000000))
	default:
		die("usage: serve PORTFILE SECONDS | get URL N keepalive|fresh P | syscalls N")
	}
}
