/* file: whole files in and out, the three ways the code base needs them and nothing more: read a
 * small file whole with a size cap, write a file so that a reader never sees half of it, and
 * create a folder with its parents. Errors name the path and say what went wrong; errno is left
 * as the failing call set it (ENOENT for a missing file, EFBIG past the cap, EISDIR for a folder).
 *
 * Not here: streaming reads of large inputs (eval/dataset.c reads datasets line by line), and
 * anything that knows what the bytes mean.
 *
 * DESIGN. Atomic writes go to a temporary file in the same folder (`<path>.tmp-<pid>-<n>`,
 * created with O_EXCL and mode 0666 less the umask, like fopen would), which is flushed, fsync'ed
 * and renamed over `path`; on any failure, and on abort, the temporary file is removed, so a full
 * disk leaves neither half a file nor a stray temporary behind. The rename is atomic within a
 * filesystem; the folder is fsync'ed after it so the new name survives a power cut too. A process
 * killed in the middle of a write leaves its temporary: file_atomic_sweep removes those whose
 * process is gone, and file_free_space lets a caller refuse a write that cannot fit. */
#ifndef LLMAJ_FILE_H
#define LLMAJ_FILE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FILE_MISSING_OK 1u /* file_read_all: a missing file is not an error (*out = NULL, 0) */
#define FILE_SECRET 2u     /* file_read_all: wipe every intermediate copy (the caller wipes *out) */

/* Reads all of `path` (at most `max` bytes) into *out, NUL-terminated (caller frees), its length
 * in *len (may be NULL). 0, or -1 with "cannot open `PATH`: reason", "`PATH` is a folder, not a
 * file", "`PATH` is larger than the limit of N bytes" or "cannot read `PATH`: reason" in err. With
 * FILE_MISSING_OK a path that does not exist (ENOENT, ENOTDIR) gives 0 and *out = NULL. */
int file_read_all(const char *path, size_t max, unsigned flags, char **out, size_t *len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Creates `path` and every missing parent with `mode` (less the umask); existing folders are
 * fine. 0, or -1 with "cannot create folder DIR: reason" (DIR the part that failed). */
int file_mkdirs(const char *path, mode_t mode, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Writes `len` bytes to `path` atomically (see DESIGN). 0, or -1 with "cannot write PATH: reason"
 * in err and nothing changed at `path`. */
int file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same, written in pieces: open, write any number of times, then commit or abort. A failed
 * write is remembered and reported by commit. */
typedef struct file_atomic file_atomic_t;

/* NULL with "cannot create PATH: reason" in err. Caller owns the result (commit or abort it). */
file_atomic_t *file_atomic_open(const char *path, char *err, size_t errlen);
/* Buffered. 0, or -1 (the write failed; commit will fail and say why). */
int file_atomic_write(file_atomic_t *f, const void *data, size_t len) __attribute__((warn_unused_result));
/* Flushes, fsyncs, closes and renames over the path; frees *f and sets it to NULL. 0, or -1 with
 * "cannot write PATH: reason" in err, the temporary file removed and the path untouched. */
int file_atomic_commit(file_atomic_t **f, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Removes the temporary file and frees; accepts NULL. */
void file_atomic_abort(file_atomic_t **f);

/* Removes the temporary files of atomic writes to `path` that a process no longer running left
 * (killed in the middle: `<path>.tmp-<pid>-<n>` whose pid is gone, and `<path>.tmp`, the name
 * older versions used). Returns how many were removed (best effort: a file that cannot be
 * removed is skipped). */
size_t file_atomic_sweep(const char *path);

/* *bytes = the space an unprivileged writer may still use in the filesystem holding `dir`. 0, or
 * -1 with "cannot read the free space of DIR: reason". */
int file_free_space(const char *dir, uint64_t *bytes, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
