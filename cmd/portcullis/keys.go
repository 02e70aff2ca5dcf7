package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
)

// cmdKeys implements `portcullis keys new`: it prints a fresh key once and
// the record (its hash only) to paste into bundle data.
func cmdKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: portcullis keys new --consumer NAME [--groups a,b] [--id KEY_ID]")
		return 2
	}
	fs := newFlags("keys new", stderr)
	consumer := fs.String("consumer", "", "consumer name (required)")
	groups := fs.String("groups", "", "comma-separated groups")
	id := fs.String("id", "", "key id (default: CONSUMER-YYYY-MM-DD)")
	if code := parseFlags(fs, args[1:]); code != 0 {
		return max(code, 0)
	}
	if *consumer == "" {
		fmt.Fprintln(stderr, "portcullis keys new: --consumer is required")
		return 2
	}
	if *id == "" {
		*id = *consumer + "-" + time.Now().UTC().Format("2006-01-02")
	}
	key, record, err := apikey.Generate(*consumer, splitList(*groups), *id)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis keys new: %v\n", err)
		return 1
	}
	b, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "portcullis keys new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "API key (shown once, store it now): %s\n\nAdd this consumer to your bundle data (e.g. data.json under portcullis.consumers):\n%s\n", key, b)
	return 0
}
