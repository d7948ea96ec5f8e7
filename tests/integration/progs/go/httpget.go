// httpget URL N: N GETs of URL, each on a fresh connection (no keep-alive), with Go's own net
// package (raw system calls, never libc's socket functions). Prints one line per request: the
// status and body, or the error as Go words it ("... connect: connection refused"). Exit 1 when
// any request failed.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: httpget URL N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 || n > 1000 {
		fmt.Fprintln(os.Stderr, "httpget: N must be 1..1000")
		os.Exit(2)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	failed := false
	for i := 0; i < n; i++ {
		resp, err := client.Get(os.Args[1])
		if err != nil {
			fmt.Printf("request %d: %v\n", i+1, err)
			failed = true
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("request %d: %d %s", i+1, resp.StatusCode, body)
	}
	if failed {
		os.Exit(1)
	}
}
