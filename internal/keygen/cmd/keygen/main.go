// Command keygen writes API-key bundle data for scale measurements:
//
//	go run ./internal/keygen/cmd/keygen -count 1000000 -layout one-file -dir bundle/portcullis/consumers
//
// Consumer i (named c0000000...) has the key pk_scale_<i>. -revoke i
// removes consumer i from data written before with the same flags.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/internal/keygen"
)

func main() {
	count := flag.Int("count", 1000, "number of consumers, one key each")
	layout := flag.String("layout", string(keygen.OneFile), "one-file or split")
	dir := flag.String("dir", "", "directory of the consumers object in the bundle (required)")
	revoke := flag.Int("revoke", -1, "remove this consumer instead of writing all")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "keygen: -dir is required")
		os.Exit(2)
	}
	var err error
	if *revoke >= 0 {
		err = keygen.Revoke(*dir, *revoke, *count, keygen.Layout(*layout))
	} else {
		err = keygen.Write(*dir, *count, keygen.Layout(*layout), nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}
