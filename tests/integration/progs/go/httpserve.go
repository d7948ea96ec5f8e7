// httpserve PORTFILE: a net/http server on 127.0.0.1 (a free port, written to PORTFILE once it
// listens) answering "hello\n". Stops by itself after 120 s, so a test that dies cannot leave it.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: httpserve PORTFILE")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpserve:", err)
		os.Exit(1)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	tmp := os.Args[1] + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o600); err != nil || os.Rename(tmp, os.Args[1]) != nil {
		fmt.Fprintln(os.Stderr, "httpserve: cannot write", os.Args[1])
		os.Exit(1)
	}
	time.AfterFunc(120*time.Second, func() { os.Exit(0) })
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello\n")
	}))
}
