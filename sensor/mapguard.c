/*
 * A capture file cut short while the sensor has it mapped makes the next read of a page past
 * the new end raise SIGBUS, which would end the process and lose every observation of the run.
 * This module catches that one case: a SIGBUS inside a window the capture reader registered
 * (`watch`) gets a page of zeros mapped over the faulting page, the read goes on, and the
 * fault is counted (`faults`). The reader sees the count move, asks the file for its new size
 * and keeps only the records that lie before it. A SIGBUS anywhere else is left to the
 * previous handler (the default: the process ends, as it should on a genuine bug).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WINDOWS 16 /* mapped windows alive at once: the reader keeps one or two */

static volatile uintptr_t window_start[WINDOWS];
static volatile uintptr_t window_end[WINDOWS];
static volatile sig_atomic_t next_slot;
static volatile sig_atomic_t fault_count;
static struct sigaction previous;
static long page_size;

static void
on_sigbus(int sig, siginfo_t *info, void *context)
{
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < WINDOWS; i++) {
        if (address >= window_start[i] && address < window_end[i]) {
            void *page = (void *)(address & ~(uintptr_t)(page_size - 1));
            if (mmap(page, (size_t)page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                != MAP_FAILED) {
                fault_count++;
                return; /* the faulting read runs again and finds zeros */
            }
            break;
        }
    }
    /* Not ours: the previous disposition decides (re-raised when this handler returns). */
    sigaction(SIGBUS, &previous, NULL);
    (void)sig;
    (void)context;
}

PyDoc_STRVAR(watch_doc,
"watch(window)\n--\n\n"
"Register the memory of a mapped window (any buffer) as one whose pages may vanish: a SIGBUS\n"
"there becomes a page of zeros and a count in `faults()`. The oldest of 16 registrations is\n"
"forgotten.");

static PyObject *
watch(PyObject *module, PyObject *window)
{
    Py_buffer view;
    if (PyObject_GetBuffer(window, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int slot = next_slot;
    window_end[slot] = 0; /* never a half-written range */
    window_start[slot] = (uintptr_t)view.buf;
    window_end[slot] = (uintptr_t)view.buf + (uintptr_t)view.len;
    next_slot = (slot + 1) % WINDOWS;
    PyBuffer_Release(&view);
    (void)module;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(faults_doc,
"faults() -> int\n--\n\n"
"How many SIGBUS faults in watched windows were turned into pages of zeros so far.");

static PyObject *
faults(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLong((long)fault_count);
}

static PyMethodDef mapguard_methods[] = {
    {"watch", watch, METH_O, watch_doc},
    {"faults", faults, METH_NOARGS, faults_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mapguard_module = {
    PyModuleDef_HEAD_INIT, "trustwatch.sensor.mapguard",
    "SIGBUS in a mapped capture window (the file was cut short) becomes zeros and a count.", -1,
    mapguard_methods,
};

PyMODINIT_FUNC
PyInit_mapguard(void)
{
    page_size = sysconf(_SC_PAGESIZE);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyModule_Create(&mapguard_module);
}
