package yamlsafe

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// CleanRel cleans a repository-relative, slash-separated path and refuses
// what cannot name a file inside the repository: empty paths, absolute
// paths (including Windows drive and UNC forms), NUL bytes and paths that
// climb out with "..". The result is slash-separated and never starts with
// "../" or "/".
func CleanRel(rel string) (string, error) {
	refuse := func(detail string) (string, error) {
		return "", &Error{File: rel, Reason: ErrPath, Detail: detail,
			Hint: "use a path relative to the repository root that stays inside it"}
	}
	switch {
	case rel == "":
		return refuse("empty path")
	case strings.ContainsRune(rel, 0):
		return refuse("path contains a NUL byte")
	case strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`):
		return refuse("absolute path")
	case len(rel) >= 2 && rel[1] == ':' && isLetter(rel[0]):
		return refuse("absolute path (drive letter)")
	}
	c := path.Clean(strings.ReplaceAll(rel, `\`, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return refuse("path leaves the repository")
	}
	if c == "." {
		return refuse("path names the repository root, not a file")
	}
	return c, nil
}

func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// ReadFile reads the file rel names inside root, reading at most max bytes
// (MaxFileBytes when max <= 0). It refuses:
//   - absolute paths and paths that leave root with "..";
//   - symlinks whose target leaves root, anywhere on the path (symlinks that
//     stay inside root are followed: repositories use them to share a file
//     between overlays, and git checks them out as links);
//   - anything but a regular file (devices such as /dev/zero, FIFOs,
//     sockets, directories);
//   - files over max, by their reported size and again by what a read
//     actually returns, since /proc-like files report size 0.
//
// Resolution goes through os.Root, which walks the path with openat and
// refuses an escape at the moment of opening, not only when checked.
func ReadFile(root, rel string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxFileBytes
	}
	clean, err := CleanRel(rel)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open repository root: %w", err)
	}
	defer r.Close()
	return readIn(r, rel, clean, max)
}

// ReadRoot is ReadFile for a caller that already holds an os.Root.
func ReadRoot(r *os.Root, rel string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxFileBytes
	}
	clean, err := CleanRel(rel)
	if err != nil {
		return nil, err
	}
	return readIn(r, rel, clean, max)
}

func readIn(r *os.Root, rel, clean string, max int64) ([]byte, error) {
	// Stat before opening: opening a FIFO for reading blocks until a writer
	// appears, and opening some devices has effects of its own.
	st, err := r.Stat(clean)
	if err != nil {
		return nil, pathError(rel, err)
	}
	if err := regular(rel, st); err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, tooLarge(rel, st.Size(), max)
	}
	f, err := r.Open(clean)
	if err != nil {
		return nil, pathError(rel, err)
	}
	defer f.Close()
	// The name may have been swapped between Stat and Open: check what was
	// actually opened.
	fst, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: stat: %w", rel, err)
	}
	if err := regular(rel, fst); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", rel, err)
	}
	if int64(len(data)) > max {
		return nil, &Error{File: rel, Reason: ErrTooLarge,
			Detail: fmt.Sprintf("file is larger than the %s cap for files the bot reads", human(max)),
			Hint:   "split it into smaller files, or keep large data out of what the bot validates"}
	}
	return data, nil
}

func regular(rel string, st fs.FileInfo) error {
	if st.Mode().IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch m := st.Mode(); {
	case m.IsDir():
		what = "a directory, not a file"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO), not a file"
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		what = "a device, not a file"
	case m&fs.ModeSocket != 0:
		what = "a socket, not a file"
	}
	return &Error{File: rel, Reason: ErrNotRegular, Detail: what,
		Hint: "point at a regular file committed to the repository"}
}

// pathError turns os.Root's refusals into Errors that say what to do, and
// keeps "does not exist" recognisable with errors.Is(err, fs.ErrNotExist).
func pathError(rel string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	case errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes from parent"):
		return &Error{File: rel, Reason: ErrPath,
			Detail: "path goes through a symlink that leaves the repository",
			Hint:   "replace the symlink with the file itself, or a link to a file inside the repository"}
	}
	return fmt.Errorf("%s: %w", rel, err)
}

// ReadChecked reads rel under root with lim.MaxBytes and then Checks it.
func ReadChecked(root, rel string, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	data, err := ReadFile(root, rel, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if err := Check(rel, data, lim); err != nil {
		return nil, err
	}
	return data, nil
}
