// seccomp_bench: the workloads of scripts/bench-seccomp.sh, with Go's own net package (raw
// system calls, so seccomp mode is the way in). Standard library only.
//
//	seccomp_bench serve PORTFILE SECONDS     net/http server on 127.0.0.1 answering "hello\n";
//	                                         the port goes to PORTFILE; stops after SECONDS
//	seccomp_bench get URL N keepalive|fresh P  N GETs by P goroutines at once, over keep-alive
//	                                         connections or each on a fresh one; exit 1 on an error
//	seccomp_bench syscalls N                 N getppid calls (never notified: the filter lets them
//	                                         through in the kernel); prints ns per call
//	seccomp_bench transfers N rw|sendto      N times one byte sent on one end of a loopback TCP
//	                                         connection and received on the other, with write/read
//	                                         or sendto/recvfrom system calls made directly (no
//	                                         netpoller: both are ready at once on loopback); prints
//	                                         ns per send and receive pair
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
	"unsafe"
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

// A connected pair of TCP sockets on 127.0.0.1, blocking, made with raw system calls.
func tcpPair() (int, int) {
	ln, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		die("socket: %v", err)
	}
	if err := syscall.Bind(ln, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		die("bind: %v", err)
	}
	if err := syscall.Listen(ln, 1); err != nil {
		die("listen: %v", err)
	}
	sa, err := syscall.Getsockname(ln)
	if err != nil {
		die("getsockname: %v", err)
	}
	c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		die("socket: %v", err)
	}
	if err := syscall.Connect(c, sa); err != nil {
		die("connect: %v", err)
	}
	s, _, err := syscall.Accept(ln)
	if err != nil {
		die("accept: %v", err)
	}
	syscall.Close(ln)
	return c, s
}

func transfers(n int, how string) {
	c, s := tcpPair()
	out, in := []byte{'x'}, make([]byte, 16)
	start := time.Now()
	for i := 0; i < n; i++ {
		var err error
		if how == "rw" {
			if _, err = syscall.Write(c, out); err == nil {
				_, err = syscall.Read(s, in)
			}
		} else {
			// sendto(fd, buf, 1, 0, NULL, 0): syscall.Sendto wants an address.
			if _, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(c), uintptr(unsafe.Pointer(&out[0])), 1, 0, 0, 0); e != 0 {
				err = e
			} else {
				_, _, err = syscall.Recvfrom(s, in, 0)
			}
		}
		if err != nil {
			die("transfer %d: %v", i, err)
		}
	}
	fmt.Printf("%.1f\n", float64(time.Since(start).Nanoseconds())/float64(n))
	syscall.Close(c)
	syscall.Close(s)
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
	case len(a) == 4 && a[1] == "transfers" && (a[3] == "rw" || a[3] == "sendto"):
		transfers(number(a[2], 100000000), a[3])
	default:
		die("usage: serve PORTFILE SECONDS | get URL N keepalive|fresh P | syscalls N | transfers N rw|sendto")
	}
}
