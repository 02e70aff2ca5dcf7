package main

import "io"

func cmdKeys(args []string, stdout, stderr io.Writer) int { return 2 }
func cmdTest(args []string, stdout, stderr io.Writer) int { return 2 }
func cmdEval(args []string, stdout, stderr io.Writer) int { return 2 }
