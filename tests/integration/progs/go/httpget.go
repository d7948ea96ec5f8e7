// httpget URL N: N GETs of URL, each on a fresh connection (no keep-alive), with Go's own net
// package (raw system calls, never libc's socket functions). Prints one line per request: the
// status and body, or the error as Go words it ("... connect: connection refused"). Exit 1 when
// any request failed. Before exiting it waits (at most 5 s) until the transport closed every
// connection it dialed: Go closes them in goroutines, and a test counting closes needs them all.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// closeTracked counts a dialed connection out once, however often Close is called.
type closeTracked struct {
	net.Conn
	once sync.Once
	wg   *sync.WaitGroup
}

func (c *closeTracked) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.wg.Done)
	return err
}

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
	var open sync.WaitGroup
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &closeTracked{Conn: c, wg: &open}, nil
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, DialContext: dial},
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
	closed := make(chan struct{})
	go func() { open.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		fmt.Fprintln(os.Stderr, "httpget: connections still open after 5 s")
	}
	if failed {
		os.Exit(1)
	}
}
