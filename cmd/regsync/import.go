package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/regsync/regsync/store"
)

func runDomainImport(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("domain import", "FILE|-", "Add and update domains from a CSV file with a header line (columns id, name, registrar, and optionally status and sync_interval) or a JSON Lines file of objects with those keys; - reads stdin. "+
		"The format is told by the first character other than white space: { starts JSON Lines. Names are IDNA-normalized. A new id adds its domain, due for a sync at once; an existing one gets the line's name, registrar and sync interval, never its status, which syncs own; a line like its domain changes nothing. "+
		"Every rejected line is listed on stderr with its number and reason and changes nothing; the good lines are imported all the same, in one transaction. The exit code is 1 when a line was rejected")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	path := fs.Arg(0)
	in, size, err := openImport(path, c.stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	counted := &countingReader{r: in}
	lines, err := newLineReader(counted)
	if err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()

	started := time.Now()
	progress := newImportProgress(c.stderr, isTerminal(c.stderr), size, started)
	next := func() (store.ImportLine, error) {
		line, err := lines.next()
		switch {
		case err == nil:
			progress.read(counted.n)
		case errors.Is(err, io.EOF):
			progress.doneReading(counted.n)
		}
		return line, err
	}
	result, err := importLines(ctx, store.New(pool), next, func(line int64, reason string) {
		fmt.Fprintf(c.stderr, "line %d: %s\n", line, reason)
	})
	if err != nil {
		progress.failed()
		return err
	}
	fmt.Fprintf(c.stdout, "imported %s: %d lines in %.1fs: %d added, %d updated, %d unchanged, %d rejected\n",
		path, result.Lines, time.Since(started).Seconds(), result.Added, result.Updated, result.Unchanged, result.Rejected)
	if result.StatusKept > 0 {
		fmt.Fprintf(c.stdout, "existing domains whose line named another status, which was kept since syncs own it: %d\n", result.StatusKept)
	}
	if result.Rejected > 0 {
		fmt.Fprintf(c.stderr, "regsync domain import: %d of %d lines rejected, listed above; the other lines are imported\n", result.Rejected, result.Lines)
		return errReported
	}
	return nil
}

// openImport opens the file at path, or stdin for "-", and returns its
// size when it is known (zero otherwise).
func openImport(path string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(stdin), 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open the import file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("open the import file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return f, 0, nil
	}
	return f, info.Size(), nil
}

// countingReader counts the bytes read through it, for the progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// maxLineBytes bounds a line of a JSON Lines import; a longer one is
// rejected without being held.
const maxLineBytes = 64 << 10

// lineReader gives the lines of an import one by one, each checked: the
// domain it gives or why it is rejected. It returns io.EOF after the last
// one; any other error ends the import.
type lineReader interface {
	next() (store.ImportLine, error)
}

// newLineReader reads an import in the format its first character other
// than white space tells: JSON Lines when it is "{", CSV otherwise. A
// UTF-8 byte order mark at the start is skipped.
func newLineReader(r io.Reader) (lineReader, error) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	if start, _ := br.Peek(3); bytes.Equal(start, []byte("\uFEFF")) {
		_, _ = br.Discard(3)
	}
	// Peek returns what it has with an error when the input is shorter.
	ahead, _ := br.Peek(maxLineBytes)
	first := bytes.TrimLeft(ahead, " \t\r\n")
	switch {
	case len(ahead) == 0:
		return noLines{}, nil
	case len(first) > 0 && first[0] == '{':
		return &jsonLines{r: br}, nil
	default:
		return newCSVLines(br)
	}
}

// noLines is an empty import.
type noLines struct{}

func (noLines) next() (store.ImportLine, error) { return store.ImportLine{}, io.EOF }

// importColumns are the fields of a line, as a CSV header and the keys of
// a JSON Lines object name them; the first three are required.
var importColumns = []string{"id", "name", "registrar", "status", "sync_interval"}

// checkedLine returns line number's domain, checked and normalized, or the
// reason it is rejected.
func checkedLine(number int64, f domainFields) store.ImportLine {
	d, err := checkDomain(f)
	if err != nil {
		return store.ImportLine{Number: number, Rejected: err.Error()}
	}
	return store.ImportLine{Number: number, Domain: d}
}

// errCSVRecordTooLong ends a CSV import whose record grows past
// maxLineBytes: a huge field, or a quote never closed, which would
// otherwise be held in memory whole.
var errCSVRecordTooLong = fmt.Errorf("a CSV record is longer than %d bytes (a quote never closed?)", maxLineBytes)

// csvRecordBound passes a CSV import on to encoding/csv, which holds a
// whole record in memory, and fails once more than maxLineBytes (plus what
// encoding/csv reads ahead) have been read since the last record ended.
type csvRecordBound struct {
	r           io.Reader
	read        int64
	recordStart int64
}

// csvReadAhead is how far encoding/csv's buffered reader may read past the
// end of the record it returns.
const csvReadAhead = 4096

func (b *csvRecordBound) Read(p []byte) (int, error) {
	if b.read-b.recordStart > maxLineBytes+csvReadAhead {
		return 0, errCSVRecordTooLong
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// csvLines reads a CSV import: a header line naming the columns, then a
// domain a record.
type csvLines struct {
	r     *csv.Reader
	bound *csvRecordBound
	// line is the number of the last line read.
	line int
	// columns holds, for each of importColumns, its index in a record, or
	// -1 when the header does not name it.
	columns []int
	width   int
}

func newCSVLines(r io.Reader) (*csvLines, error) {
	bound := &csvRecordBound{r: r}
	cr := csv.NewReader(bound)
	cr.FieldsPerRecord = -1 // a record of another width is rejected, not fatal
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read the CSV header line: %w", err)
	}
	l := &csvLines{r: cr, bound: bound, columns: slices.Repeat([]int{-1}, len(importColumns)), width: len(header)}
	l.recordEnded(1)
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		col := slices.Index(importColumns, name)
		switch {
		case col < 0:
			return nil, fmt.Errorf("CSV header: unknown column %q: want %s", name, strings.Join(importColumns, ", "))
		case l.columns[col] >= 0:
			return nil, fmt.Errorf("CSV header: column %q is named twice", name)
		}
		l.columns[col] = i
	}
	for col, name := range importColumns[:3] {
		if l.columns[col] < 0 {
			return nil, fmt.Errorf("CSV header: column %q is missing: want %s, status and sync_interval being optional", name, strings.Join(importColumns, ", "))
		}
	}
	return l, nil
}

// recordEnded starts the bound of the next record where the one read,
// which started at line, ended.
func (l *csvLines) recordEnded(line int) {
	l.bound.recordStart = l.r.InputOffset()
	l.line = line
}

func (l *csvLines) next() (store.ImportLine, error) {
	record, err := l.r.Read()
	if errors.Is(err, errCSVRecordTooLong) {
		return store.ImportLine{}, fmt.Errorf("the record after the one at line %d: %w; nothing was imported", l.line, err)
	}
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		l.recordEnded(parseErr.StartLine)
		where := fmt.Sprintf("line %d", parseErr.Line)
		if parseErr.Line != parseErr.StartLine {
			where = fmt.Sprintf("lines %d to %d", parseErr.StartLine, parseErr.Line)
		}
		return store.ImportLine{Number: int64(parseErr.StartLine),
			Rejected: fmt.Sprintf("invalid CSV in %s: %v", where, parseErr.Err)}, nil
	}
	if err != nil {
		return store.ImportLine{}, err
	}
	line, _ := l.r.FieldPos(0)
	l.recordEnded(line)
	if len(record) != l.width {
		return store.ImportLine{Number: int64(line), Rejected: fmt.Sprintf("%d fields, want %d as in the header", len(record), l.width)}, nil
	}
	field := func(col int) string {
		if l.columns[col] < 0 {
			return ""
		}
		return strings.TrimSpace(record[l.columns[col]])
	}
	return checkedLine(int64(line), domainFields{ID: field(0), Name: field(1), Registrar: field(2), Status: field(3), SyncInterval: field(4)}), nil
}

// jsonLines reads a JSON Lines import: an object a line; blank lines are
// skipped.
type jsonLines struct {
	r      *bufio.Reader
	number int64
}

func (l *jsonLines) next() (store.ImportLine, error) {
	for {
		text, err := l.r.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.r.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return store.ImportLine{}, err
		}
		if len(text) == 0 && errors.Is(err, io.EOF) {
			return store.ImportLine{}, io.EOF
		}
		l.number++
		if tooLong {
			return store.ImportLine{Number: l.number, Rejected: fmt.Sprintf("the line is longer than %d bytes", maxLineBytes)}, nil
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		f, reason := decodeJSONLine(text)
		if reason != "" {
			return store.ImportLine{Number: l.number, Rejected: reason}, nil
		}
		return checkedLine(l.number, f), nil
	}
}

// decodeJSONLine decodes one JSON object of a line, or says why it cannot.
func decodeJSONLine(text []byte) (domainFields, string) {
	var f domainFields
	if text[0] != '{' {
		return f, "invalid JSON Lines: the line is not a JSON object"
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	err := dec.Decode(&f)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return f, fmt.Sprintf("invalid JSON Lines: %q is a JSON %s, want a string", typeErr.Field, typeErr.Value)
	case err != nil:
		return f, "invalid JSON Lines: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return f, "invalid JSON Lines: more than one JSON value on the line"
	}
	return f, jsonKeysProblem(text)
}

// jsonKeysProblem says what is wrong with the keys of a line that decoded
// well: encoding/json matches keys whatever their case and lets a repeated
// key overwrite the first, and an import takes neither.
func jsonKeysProblem(text []byte) string {
	dec := json.NewDecoder(bytes.NewReader(text))
	if _, err := dec.Token(); err != nil { // the object's {
		return "invalid JSON Lines: " + err.Error()
	}
	seen := map[string]bool{}
	for dec.More() {
		token, err := dec.Token()
		key, isKey := token.(string)
		if err != nil || !isKey {
			return "invalid JSON Lines: a key of the object cannot be read"
		}
		switch {
		case !slices.Contains(importColumns, key):
			return fmt.Sprintf("invalid JSON Lines: unknown field %q", key)
		case seen[key]:
			return fmt.Sprintf("invalid JSON Lines: field %q is given twice", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "invalid JSON Lines: " + err.Error()
		}
	}
	return ""
}
