// filecopy HOST:PORT FILE: connects and copies FILE to the connection with io.Copy, which on
// Linux moves it with sendfile(2) (TCPConn.ReadFrom of an *os.File; net/http's ServeFile ends
// there too). Prints "copied N", or the error in Go's words and exits 1.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: filecopy HOST:PORT FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	conn, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	n, err := io.Copy(conn, f)
	conn.Close()
	if err != nil {
		fmt.Printf("copied %d: %v\n", n, err)
		os.Exit(1)
	}
	fmt.Printf("copied %d\n", n)
}
