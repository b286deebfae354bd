/*
 * stream.c - byte streams (dragonipc.smipc); filled in with the streams.
 */
#include "dipcpy.h"

int dipy_stream_init(PyObject *module)
{
	(void)module;
	return 0;
}
