/* sensor.fastpath: the loops that run once per packet of every capture, compiled.
 *
 * walk_pcap and walk_pcapng find where each record of a read block starts. count_done counts
 * the packets of flows that are done: nearly all of a capture's packets belong to flows whose handshake is
 * over (bulk DICOM, backups, TLS downloads), and for those the sensor needs only the flow
 * lookup and the per-direction packet and byte counters with the last packet's time. In
 * Python each cost over a microsecond per packet (tests/bench/bench.py); here a packet of a
 * done flow costs a few header tests and, unless it follows one of the same flow, one dict
 * lookup. Everything else about records and flows (what a corrupt length means, link types,
 * clocks, the flow table, whether a flow is done) stays in Python: sensor/capture.py,
 * sensor/sense.py, sensor/flows.py.
 *
 * A packet is counted here only when the full path (sensor/decode.py) would decode it to the
 * same flow key and then merely count it: untagged or VLAN-tagged Ethernet carrying IPv4 with
 * a 20-byte header and no fragmentation, or IPv6 with no extension header, then TCP without
 * SYN (it opens a connection; a FIN or RST closing a done flow is counted, and says so) or
 * UDP that is not VXLAN. Anything else goes to the full path, which handles all of it; after
 * a SYN, so do the later packets of both directions of its ports (the new connection may
 * reuse a done one's).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define IP_TCP 6
#define IP_UDP 17
#define UDP_VXLAN 4789
#define PREFETCH_AHEAD 8
/* Records ahead whose headers count_done asks memory for (a few hundred nanoseconds each). */
#define KEY_MAX (1 + 16 + 16 + 4)
/* A classified packet's key: the protocol byte, then the flow table's key (source and
 * destination address, then both ports, as on the wire). */

static uint32_t
read_u32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static unsigned
read_be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static int
is_vlan(unsigned ethertype)
{
    return ethertype == 0x8100 || ethertype == 0x88A8 || ethertype == 0x9100 || ethertype == 0x9200;
}

enum { COUNT, CLOSES, DECODE, OPENS };
/* What a classified packet needs: only counting if its flow is done; the same, and marking the
 * flow closed (a FIN or RST); decoding in full (it answers the opening of a connection); or
 * decoding in full, and so does every later packet with its key or the reverse one (a SYN: a
 * new connection may reuse the ports of a done one, and the full path then makes it a new
 * flow). */

/* The key of an Ethernet frame of `caplen` bytes carrying TCP or UDP the way the full path
 * decodes it, its length (0: not such a frame) and what the packet needs in `need`. */
static Py_ssize_t
classify(const unsigned char *frame, Py_ssize_t caplen, unsigned char *key, int *need)
{
    if (caplen < 14)
        return 0;
    Py_ssize_t l3 = 14;
    unsigned ethertype = read_be16(frame + 12);
    while (is_vlan(ethertype)) {
        if (caplen < l3 + 4)
            return 0;
        ethertype = read_be16(frame + l3 + 2);
        l3 += 4;
    }
    const unsigned char *ip = frame + l3, *l4;
    Py_ssize_t avail = caplen - l3, end, addresses;
    unsigned proto;
    if (ethertype == 0x0800) {
        if (avail < 20 || ip[0] != 0x45 || read_be16(ip + 6) & 0x3FFF)
            return 0;
        Py_ssize_t total = read_be16(ip + 2);
        if (total == 0)  /* segmentation offload: the length is only known to the NIC */
            total = avail;
        if (total < 20)
            return 0;
        end = total < avail ? total : avail;
        proto = ip[9];
        l4 = ip + 20;
        end -= 20;
        addresses = 8;
        memcpy(key + 1, ip + 12, 8);
    } else if (ethertype == 0x86DD) {
        if (avail < 40)
            return 0;
        Py_ssize_t payload = read_be16(ip + 4);
        end = payload && 40 + payload < avail ? 40 + payload : avail;
        proto = ip[6];
        l4 = ip + 40;
        end -= 40;
        addresses = 32;
        memcpy(key + 1, ip + 8, 32);
    } else {
        return 0;
    }
    *need = COUNT;
    if (proto == IP_TCP) {
        if (end < 20 || l4[12] >> 4 < 5)
            return 0;
        if ((l4[13] & 0x12) == 0x02)  /* SYN without ACK */
            *need = OPENS;
        else if (l4[13] & 0x02)  /* SYN-ACK */
            *need = DECODE;
        else if (l4[13] & 0x05)  /* FIN, RST */
            *need = CLOSES;
    } else if (proto == IP_UDP) {
        if (end < 8 || (read_be16(l4 + 2) == UDP_VXLAN && end >= 16 + 14))
            return 0;
    } else {
        return 0;
    }
    key[0] = (unsigned char)proto;
    memcpy(key + 1 + addresses, l4, 4);
    return 1 + addresses + 4;
}

/* The key of the other direction: addresses swapped, ports swapped. */
static void
reverse_key(const unsigned char *key, Py_ssize_t len, unsigned char *reversed)
{
    Py_ssize_t address = (len - 1 - 4) / 2;
    reversed[0] = key[0];
    memcpy(reversed + 1, key + 1 + address, address);
    memcpy(reversed + 1 + address, key + 1, address);
    memcpy(reversed + 1 + 2 * address, key + 1 + 2 * address + 2, 2);
    memcpy(reversed + 3 + 2 * address, key + 1 + 2 * address, 2);
}

/* From now on in this call, the packets with `key` go to the full path. */
static int
decode_from_now(PyObject *known, const unsigned char *key, Py_ssize_t len)
{
    PyObject *known_key = PyBytes_FromStringAndSize((const char *)key, len);
    PyObject *none = PyLong_FromSsize_t(-1);
    int result = known_key == NULL || none == NULL ? -1 : PyDict_SetItem(known, known_key, none);
    Py_XDECREF(known_key);
    Py_XDECREF(none);
    return result;
}

/* Append the integer `value` to `list`; -1 with an exception set when that failed. */
static int
append_int(PyObject *list, Py_ssize_t value)
{
    PyObject *number = PyLong_FromSsize_t(value);
    if (number == NULL)
        return -1;
    int result = PyList_Append(list, number);
    Py_DECREF(number);
    return result;
}

/* What a walk returns: (offsets, end); NULL when `offsets` is NULL (an exception is set). */
static PyObject *
walk_result(PyObject *offsets, Py_ssize_t end, Py_buffer *block)
{
    PyBuffer_Release(block);
    return offsets == NULL ? NULL : Py_BuildValue("Nn", offsets, end);
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
    while (offsets != NULL && pos >= 0 && block.len - pos >= 16) {
        uint32_t caplen = read_u32(data + pos + 8, big_endian);
        if (caplen > max_record || block.len - pos - 16 < (Py_ssize_t)caplen)
            break;
        if (append_int(offsets, pos) < 0)
            Py_CLEAR(offsets);
        /* Where the record after next starts if the frames keep their size, as bulk
         * transfers' do: asking for it now hides most of the wait for memory. */
        __builtin_prefetch(data + pos + 2 * (16 + (Py_ssize_t)caplen));
        pos += 16 + (Py_ssize_t)caplen;
    }
    return walk_result(offsets, pos, &block);
}

PyDoc_STRVAR(walk_pcapng_doc,
"walk_pcapng(block, pos, big_endian, interface, max_block) -> (offsets, end)\n\n"
"The offsets of the pcap-style records (12 bytes into each block: timestamp words, caplen,\n"
"wirelen, frame) of the whole, well-formed Enhanced Packet Blocks of `interface` that follow\n"
"one another in `block` from `pos` on, and the offset of the first block that is anything\n"
"else (another block type or interface, a bad or cut length): sensor/capture.py reads it.");

static PyObject *
walk_pcapng(PyObject *module, PyObject *args)
{
    Py_buffer block;
    Py_ssize_t pos;
    int big_endian;
    unsigned long interface, max_block;

    if (!PyArg_ParseTuple(args, "y*npkk", &block, &pos, &big_endian, &interface, &max_block))
        return NULL;
    const unsigned char *data = block.buf;
    PyObject *offsets = PyList_New(0);
    while (offsets != NULL && pos >= 0 && block.len - pos >= 28) {
        const unsigned char *p = data + pos;
        uint32_t length = read_u32(p + 4, big_endian);
        if (read_u32(p, big_endian) != 6 || length < 32 || length > max_block || length % 4
                || (Py_ssize_t)length > block.len - pos || read_u32(p + 8, big_endian) != interface
                || read_u32(p + 20, big_endian) > length - 32)
            break;
        if (append_int(offsets, pos + 12) < 0)
            Py_CLEAR(offsets);
        pos += length;
    }
    return walk_result(offsets, pos, &block);
}

/* The index into `offsets` of the k-th record to look at: k itself when `indices` is None;
 * -1 with an exception set when the index is not an int or out of range. */
static Py_ssize_t
record_index(PyObject *indices, Py_ssize_t k, PyObject *offsets)
{
    if (indices == Py_None)
        return k;
    Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(indices, k));
    if ((i < 0 || i >= PyList_GET_SIZE(offsets)) && !PyErr_Occurred())
        PyErr_SetString(PyExc_IndexError, "count_done: record index out of range");
    return PyErr_Occurred() ? -1 : i;
}

/* Where the k-th record to look at starts, if it is there and 64 bytes long; NULL otherwise,
 * leaving no exception set (a bad index or offset is reported when its turn comes). */
static const unsigned char *
record_start(PyObject *indices, Py_ssize_t k, PyObject *offsets, Py_buffer *block)
{
    if (k >= PyList_GET_SIZE(indices == Py_None ? offsets : indices))
        return NULL;
    Py_ssize_t i = record_index(indices, k, offsets);
    Py_ssize_t pos = i < 0 ? -1 : PyLong_AsSsize_t(PyList_GET_ITEM(offsets, i));
    if (pos == -1 && PyErr_Occurred())
        PyErr_Clear();
    return pos >= 0 && pos < block->len - 64 ? (const unsigned char *)block->buf + pos : NULL;
}

typedef struct {
    Py_ssize_t packets;
    unsigned long long wire_bytes;
    Py_ssize_t last;
    int closed;
} Tally;

PyDoc_STRVAR(count_done_doc,
"count_done(block, offsets, indices, big_endian, countable) -> (full, counted)\n\n"
"Count the packets of done flows among the Ethernet records at `offsets` in `block` (pcap\n"
"record layout): those at the given `indices` into `offsets` (in order), or all when it is\n"
"None. `countable(tcp, key)` is asked once per flow key, with the flow table's key: what to\n"
"count the key's packets into, or None when they must go to the full path.\n"
"Returns the indices (into `offsets`, in order) of the packets the full path must see, and\n"
"one (what countable gave, packets, wire bytes, offset of the last record, whether a FIN or\n"
"RST was among them) per counted key.");

static PyObject *
count_done(PyObject *module, PyObject *args)
{
    Py_buffer block;
    PyObject *offsets, *indices, *countable;
    int big_endian;

    if (!PyArg_ParseTuple(args, "y*O!OpO", &block, &PyList_Type, &offsets, &indices, &big_endian,
                          &countable))
        return NULL;
    if (indices != Py_None && !PyList_Check(indices)) {
        PyBuffer_Release(&block);
        PyErr_SetString(PyExc_TypeError, "indices must be a list or None");
        return NULL;
    }
    const unsigned char *data = block.buf;
    PyObject *full = PyList_New(0), *known = PyDict_New(), *targets = PyList_New(0), *counted = NULL;
    Tally *tallies = NULL;
    Py_ssize_t ntallies = 0, capacity = 0;
    unsigned char key[KEY_MAX], last_key[KEY_MAX], reversed[KEY_MAX];
    Py_ssize_t last_len = 0, last_tally = -1;
    int need = COUNT;
    if (full == NULL || known == NULL || targets == NULL)
        goto fail;

    /* The lists' sizes are read anew at each step: `countable` is Python and could change them. */
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(indices == Py_None ? offsets : indices); k++) {
        Py_ssize_t i = record_index(indices, k, offsets);
        if (i < 0)
            goto fail;
        Py_ssize_t pos = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, i));
        if (pos == -1 && PyErr_Occurred())
            goto fail;
        /* The walk's reads of these records are out of the cache by now: ask for a later
         * record's headers while this one is classified. */
        const unsigned char *later = record_start(indices, k + PREFETCH_AHEAD, offsets, &block);
        if (later != NULL) {
            __builtin_prefetch(later);
            __builtin_prefetch(later + 63);
        }
        Py_ssize_t len = 0, caplen = 0;
        if (pos >= 0 && block.len - pos >= 16) {
            caplen = read_u32(data + pos + 8, big_endian);
            if (caplen <= block.len - pos - 16)
                len = classify(data + pos + 16, caplen, key, &need);
        }
        Py_ssize_t tally = -1;
        if (len == 0 || need == DECODE) {
            /* to the full path */
        } else if (need == OPENS) {
            reverse_key(key, len, reversed);
            if (decode_from_now(known, key, len) < 0 || decode_from_now(known, reversed, len) < 0)
                goto fail;
            last_len = 0;
        } else if (len == last_len && memcmp(key, last_key, len) == 0) {
            tally = last_tally;
        } else {
            PyObject *known_key = PyBytes_FromStringAndSize((const char *)key, len);
            if (known_key == NULL)
                goto fail;
            PyObject *found = PyDict_GetItemWithError(known, known_key);
            if (found != NULL) {
                tally = PyLong_AsSsize_t(found);
            } else if (PyErr_Occurred()) {
                Py_DECREF(known_key);
                goto fail;
            } else {
                PyObject *target = PyObject_CallFunction(
                    countable, "Oy#", key[0] == IP_TCP ? Py_True : Py_False, key + 1, len - 1);
                if (target == NULL) {
                    Py_DECREF(known_key);
                    goto fail;
                }
                if (target != Py_None) {
                    if (ntallies == capacity) {
                        capacity = capacity ? 2 * capacity : 64;
                        Tally *grown = PyMem_Realloc(tallies, capacity * sizeof(Tally));
                        if (grown == NULL) {
                            Py_DECREF(target);
                            Py_DECREF(known_key);
                            PyErr_NoMemory();
                            goto fail;
                        }
                        tallies = grown;
                    }
                    if (PyList_Append(targets, target) < 0) {
                        Py_DECREF(target);
                        Py_DECREF(known_key);
                        goto fail;
                    }
                    tallies[ntallies] = (Tally){0, 0, 0, 0};
                    tally = ntallies++;
                }
                Py_DECREF(target);
                PyObject *value = PyLong_FromSsize_t(tally);
                int stored = value == NULL ? -1 : PyDict_SetItem(known, known_key, value);
                Py_XDECREF(value);
                if (stored < 0) {
                    Py_DECREF(known_key);
                    goto fail;
                }
            }
            Py_DECREF(known_key);
            memcpy(last_key, key, len);
            last_len = len;
            last_tally = tally;
        }
        if (tally < 0) {
            if (append_int(full, i) < 0)
                goto fail;
            continue;
        }
        tallies[tally].packets++;
        tallies[tally].wire_bytes += read_u32(data + pos + 12, big_endian);
        tallies[tally].last = pos;
        tallies[tally].closed |= need == CLOSES;
    }

    counted = PyList_New(ntallies);
    if (counted == NULL)
        goto fail;
    for (Py_ssize_t t = 0; t < ntallies; t++) {
        PyObject *row = Py_BuildValue("OnKnO", PyList_GET_ITEM(targets, t), tallies[t].packets,
                                      tallies[t].wire_bytes, tallies[t].last,
                                      tallies[t].closed ? Py_True : Py_False);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(counted, t, row);
    }
    PyMem_Free(tallies);
    Py_DECREF(known);
    Py_DECREF(targets);
    PyBuffer_Release(&block);
    return Py_BuildValue("NN", full, counted);

fail:
    PyMem_Free(tallies);
    Py_XDECREF(full);
    Py_XDECREF(known);
    Py_XDECREF(targets);
    Py_XDECREF(counted);
    PyBuffer_Release(&block);
    return NULL;
}

static PyMethodDef fastpath_methods[] = {
    {"walk_pcap", walk_pcap, METH_VARARGS, walk_pcap_doc},
    {"walk_pcapng", walk_pcapng, METH_VARARGS, walk_pcapng_doc},
    {"count_done", count_done, METH_VARARGS, count_done_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastpath_module = {
    PyModuleDef_HEAD_INIT, "trustwatch.sensor.fastpath",
    "The per-packet loops, compiled: the record walks and the counting of done flows.", -1,
    fastpath_methods,
};

PyMODINIT_FUNC
PyInit_fastpath(void)
{
    return PyModule_Create(&fastpath_module);
}
