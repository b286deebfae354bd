/*
 * pyconfig.h for building the dragonipc extension for 64-bit Windows
 * CPython with MinGW-w64 (a cross compiler on Linux, or MSYS2's).
 *
 * CPython's headers are the same on every platform except this file,
 * which says what the interpreter was built for.  A Linux pyconfig.h
 * (Debian's, or the one of a Python built from source) describes an LP64
 * system with pthreads and must not be used; the python.org Windows one
 * is written for MSVC.  This one holds only what the public headers of
 * CPython 3.11 consult when an extension module (not the core) is
 * compiled, with the values of the python.org x64 builds.  The headers
 * are copied beside it without their own pyconfig.h (build.sh), so that
 * #include "pyconfig.h" finds this one.
 *
 * The ABI itself (struct layouts, calling convention, the 32-bit long of
 * LLP64) comes from the compiler: MinGW-w64 follows the Microsoft x64
 * ABI, so objects it builds call into pythonXY.dll as MSVC's would.
 */
#ifndef DIPC_WIN_PYCONFIG_H
#define DIPC_WIN_PYCONFIG_H

#if !defined(_WIN64) || !defined(__MINGW64__)
#error "this pyconfig.h is for 64-bit Windows with MinGW-w64 only"
#endif

/* The platform: Windows (MS_WINDOWS: the headers declare the Windows-only
 * functions and do not include <unistd.h>), in its 64-bit flavour
 * (MS_WIN64). */
#define MS_WINDOWS 1
#define MS_WIN64 1

/* The interpreter is pythonXY.dll: with these two, the headers declare its
 * functions and data __declspec(dllimport) (data such as PyExc_TypeError
 * or Py_None can only be reached that way) and PyMODINIT_FUNC exports the
 * module's PyInit function from the .pyd. */
#define Py_ENABLE_SHARED 1
#define HAVE_DECLSPEC_DLL 1

/* Type sizes (LLP64): long stays 32 bits while pointers are 64; pyport.h
 * checks them against <limits.h> and picks Py_ssize_t (intptr_t) and the
 * PyLong conversions by them.  wchar_t is UTF-16, so Py_UNICODE_SIZE is 2. */
#define SIZEOF_INT 4
#define SIZEOF_LONG 4
#define SIZEOF_LONG_LONG 8
#define SIZEOF_VOID_P 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_WCHAR_T 2

/* Headers the C library has: Python.h includes <stddef.h> for size_t,
 * pyport.h <sys/stat.h> for the S_IS* macros, and the wide-character
 * conversions (PyUnicode_FromWideChar...) are declared with <wchar.h>. */
#define HAVE_STDDEF_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_WCHAR_H 1

/* Threads are Windows' own: the headers take a thread-specific storage
 * key (Py_tss_t) to be a DWORD-sized unsigned long. */
#define NT_THREADS 1

/* Doc strings are kept (PyDoc_STR), as in every python.org build. */
#define WITH_DOC_STRINGS 1

/* Not defined, as in a python.org release build: Py_DEBUG (a debug
 * interpreter, python_d.exe, with another object layout), Py_TRACE_REFS,
 * WORDS_BIGENDIAN (x64 is little-endian), HAVE_FORK. */

#endif /* DIPC_WIN_PYCONFIG_H */
