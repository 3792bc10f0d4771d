package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// How an import shows its progress: on a terminal a bar redrawn in place
// at most every redrawEvery; elsewhere, a log for instance, a plain line
// every progressLinesEvery lines.
const (
	redrawEvery        = 100 * time.Millisecond
	progressLinesEvery = 100_000
	progressBarWidth   = 30
)

// isTerminal reports whether w is a terminal (a character device), on
// which an import draws a progress bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// importProgress shows how far an import has read its file. It is used
// by the one goroutine that reads the file.
type importProgress struct {
	w        io.Writer
	terminal bool
	// size is the file's size in bytes; zero when unknown (stdin).
	size    int64
	started time.Time
	lines   int64
	drawn   time.Time
}

func newImportProgress(w io.Writer, terminal bool, size int64, started time.Time) *importProgress {
	return &importProgress{w: w, terminal: terminal, size: size, started: started}
}

// read counts one line read, the file read up to offset.
func (p *importProgress) read(offset int64) {
	p.lines++
	if p.terminal {
		// The clock is read every 1024 lines only.
		if p.lines%1024 != 0 {
			return
		}
		if now := time.Now(); now.Sub(p.drawn) >= redrawEvery {
			p.drawn = now
			fmt.Fprintf(p.w, "\r%s\033[K", progressBar(p.lines, offset, p.size, now.Sub(p.started)))
		}
		return
	}
	if p.lines%progressLinesEvery == 0 {
		fmt.Fprintf(p.w, "import: %s\n", progressLine(p.lines, offset, p.size, time.Since(p.started)))
	}
}

// doneReading ends the reading phase: the checks and the merge follow.
func (p *importProgress) doneReading(offset int64) {
	elapsed := time.Since(p.started)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\033[K\n", progressBar(p.lines, offset, p.size, elapsed))
	}
	fmt.Fprintf(p.w, "import: read %d lines in %.1fs; checking them and merging them into regsync.domains\n", p.lines, elapsed.Seconds())
}

// failed ends a bar that an error interrupted, so that the error starts
// a line of its own.
func (p *importProgress) failed() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

// progressBar draws the progress of an import that has read lines and
// offset bytes of size (zero when unknown, and then without a bar) in
// elapsed.
func progressBar(lines, offset, size int64, elapsed time.Duration) string {
	if size <= 0 {
		return fmt.Sprintf("%d lines  %.0fs", lines, elapsed.Seconds())
	}
	done := min(offset*progressBarWidth/size, progressBarWidth)
	bar := strings.Repeat("#", int(done)) + strings.Repeat(".", progressBarWidth-int(done))
	return fmt.Sprintf("[%s] %3d%%  %d lines  %.0fs", bar, min(offset*100/size, 100), lines, elapsed.Seconds())
}

// progressLine says in words how far an import has read.
func progressLine(lines, offset, size int64, elapsed time.Duration) string {
	if size <= 0 {
		return fmt.Sprintf("read %d lines in %.1fs", lines, elapsed.Seconds())
	}
	return fmt.Sprintf("read %d lines (%d%%) in %.1fs", lines, min(offset*100/size, 100), elapsed.Seconds())
}
