// Command odu is a CI runner you attach to. See the README, or `odu --help`.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
