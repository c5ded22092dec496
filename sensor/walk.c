/* sensor._walk: the pcap record walk, compiled.
 *
 * Finding where each record of a read block starts is the one loop of the sensor that runs
 * once per packet of every capture: in Python it cost about a third of a second per million
 * packets, more than counting them does (tests/bench/bench.py). Everything else about the
 * records (what a corrupt length means, warnings, link types, clocks) stays in
 * sensor/capture.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static uint32_t
read_u32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

PyDoc_STRVAR(walk_pcap_doc,
"walk_pcap(block, pos, big_endian, max_record) -> (offsets, end)\n\n"
"The offsets of the pcap records lying whole in `block` from `pos` on (16-byte header:\n"
"seconds, fraction, caplen, wirelen; then caplen bytes), and the offset where the walk\n"
"stopped: a record cut by the end of the block, or one whose caplen is over `max_record`.");

static PyObject *
walk_pcap(PyObject *module, PyObject *args)
{
    Py_buffer block;
    Py_ssize_t pos;
    int big_endian;
    unsigned long max_record;

    if (!PyArg_ParseTuple(args, "y*npk", &block, &pos, &big_endian, &max_record))
        return NULL;
    const unsigned char *data = block.buf;
    PyObject *offsets = PyList_New(0);
    if (offsets == NULL)
        goto fail;
    while (pos >= 0 && block.len - pos >= 16) {
        uint32_t caplen = read_u32(data + pos + 8, big_endian);
        if (caplen > max_record || block.len - pos - 16 < (Py_ssize_t)caplen)
            break;
        PyObject *offset = PyLong_FromSsize_t(pos);
        if (offset == NULL || PyList_Append(offsets, offset) < 0) {
            Py_XDECREF(offset);
            goto fail;
        }
        Py_DECREF(offset);
        pos += 16 + (Py_ssize_t)caplen;
    }
    PyBuffer_Release(&block);
    return Py_BuildValue("Nn", offsets, pos);

fail:
    Py_XDECREF(offsets);
    PyBuffer_Release(&block);
    return NULL;
}

static PyMethodDef walk_methods[] = {
    {"walk_pcap", walk_pcap, METH_VARARGS, walk_pcap_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef walk_module = {
    PyModuleDef_HEAD_INIT, "sensor._walk", "The pcap record walk, compiled.", -1, walk_methods,
};

PyMODINIT_FUNC
PyInit__walk(void)
{
    return PyModule_Create(&walk_module);
}
