# DIPC_CHECK_CFLAGS_APPEND(VAR, FLAGS)
# Append to VAR each of FLAGS that the C compiler accepts (as an error if
# unknown, so clang's warnings about unknown options count too).
AC_DEFUN([DIPC_CHECK_CFLAGS_APPEND], [
  for dipc_flag in $2; do
    AS_VAR_PUSHDEF([dipc_cache], [dipc_cv_cflag_$dipc_flag])
    AC_CACHE_CHECK([whether $CC accepts $dipc_flag], [dipc_cache], [
      dipc_save_CFLAGS=$CFLAGS
      CFLAGS="$CFLAGS -Werror $dipc_flag"
      AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
        [AS_VAR_SET([dipc_cache], [yes])], [AS_VAR_SET([dipc_cache], [no])])
      CFLAGS=$dipc_save_CFLAGS])
    AS_VAR_IF([dipc_cache], [yes], [$1="$$1 $dipc_flag"])
    AS_VAR_POPDEF([dipc_cache])
  done
])
