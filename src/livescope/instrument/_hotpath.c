/* The sys.monitoring callbacks of livescope.instrument.monitoring, in C.
 *
 * They run on every call of a hooked function, so the common path - a call that starts, is
 * timed, returns and is handed to its listeners - is done here without Python frames of its
 * own. Everything else (reading the arguments, building the advice, a before-listener) is
 * delegated to the Python functions given to configure(), which are exactly what the
 * pure-Python callbacks use, so both paths behave the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <time.h>

static PyObject *hooked;     /* dict: code -> (entry, reader, read_late, plan) */
static PyObject *pending;    /* dict: frame -> start ns (int) or (start, advice, listeners) */
static PyObject *own_thread; /* python: () -> bool, is the current thread livescope's own */
static PyObject *full_start; /* python: (code, frame) -> None, the start with arguments */
static PyObject *late_state; /* python: (code, frame, start) -> state tuple or None */

#if PY_VERSION_HEX < 0x030C0000
#error "the sys.monitoring callbacks need CPython 3.12+; older versions use wrappers"
#endif
#ifdef Py_GIL_DISABLED
#error "the callbacks rely on the GIL; a free-threaded build uses the Python callbacks"
#endif

/* The last code object looked up and its hooked item: a hot loop calls one function, and
   hashing a code object costs more than everything else here. forget() drops it whenever
   the hooked table changes. Both are borrowed from the table. */
static PyObject *last_code, *last_item;

static PyObject *s_listeners, *s_before_listeners, *s_after;

/* Where each field of an Advice lives in the object (its __slots__), found by configure(). */
enum { F_SITE, F_PARAMS, F_TARGET, F_RETURN_OBJ, F_THROW_EXP, F_IS_BEFORE, F_IS_RETURN,
       F_IS_THROW, F_COST, F_STASH, F_COUNT };
static const char *field_names[F_COUNT] = {"site", "params", "target", "return_obj", "throw_exp",
                                           "is_before", "is_return", "is_throw", "cost", "stash"};
static Py_ssize_t field_offset[F_COUNT];
static PyTypeObject *advice_type;

/* Store `value` (a new reference, stolen) into an advice field, releasing the old value. */
static void
set_field(PyObject *advice, int field, PyObject *value)
{
    PyObject **slot = (PyObject **)((char *)advice + field_offset[field]);
    Py_XSETREF(*slot, value);
}

static int
find_fields(PyTypeObject *type)
{
    for (int i = 0; i < F_COUNT; i++) {
        PyObject *descr = PyDict_GetItemString(type->tp_dict, field_names[i]);
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) {
            PyErr_Format(PyExc_TypeError, "advice type has no slot %s", field_names[i]);
            return -1;
        }
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != Py_T_OBJECT_EX) {
            PyErr_Format(PyExc_TypeError, "slot %s is not an object slot", field_names[i]);
            return -1;
        }
        field_offset[i] = member->offset;
    }
    Py_XSETREF(advice_type, (PyTypeObject *)Py_NewRef(type));
    return 0;
}

/* A new advice at the start of a call, every field set as Advice.at_call sets them. */
static PyObject *
new_advice(PyObject *site, PyObject *params, PyObject *target)
{
    PyObject *advice = advice_type->tp_alloc(advice_type, 0);
    if (advice == NULL)
        return NULL;
    PyObject *zero = PyFloat_FromDouble(0.0);
    if (zero == NULL) {
        Py_DECREF(advice);
        return NULL;
    }
    set_field(advice, F_SITE, Py_NewRef(site));
    set_field(advice, F_PARAMS, Py_NewRef(params));
    set_field(advice, F_TARGET, Py_NewRef(target));
    set_field(advice, F_RETURN_OBJ, Py_NewRef(Py_None));
    set_field(advice, F_THROW_EXP, Py_NewRef(Py_None));
    set_field(advice, F_IS_BEFORE, Py_NewRef(Py_False));
    set_field(advice, F_IS_RETURN, Py_NewRef(Py_False));
    set_field(advice, F_IS_THROW, Py_NewRef(Py_False));
    set_field(advice, F_COST, zero);
    set_field(advice, F_STASH, Py_NewRef(Py_None));
    return advice;
}

/* Per OS thread, so a new thread always starts unknown and unmuted. */
static __thread int listener_depth;   /* > 0 while this thread runs a listener */
static __thread signed char own = -1; /* this is a livescope thread: -1 not asked yet */

/* 1 when hooks stay silent on this thread, 0 when not, -1 on error */
static int
muted_here(void)
{
    if (listener_depth > 0)
        return 1;
    if (own < 0) {
        if (own_thread == NULL)
            return 0;
        PyObject *answer = PyObject_CallNoArgs(own_thread);
        if (answer == NULL)
            return -1;
        own = (signed char)PyObject_IsTrue(answer);
        Py_DECREF(answer);
    }
    return own;
}

static PyObject *
muted(PyObject *self, PyObject *unused)
{
    int answer = muted_here();
    return answer < 0 ? NULL : PyBool_FromLong(answer);
}

static PyObject *
mute(PyObject *self, PyObject *unused)
{
    listener_depth++;
    Py_RETURN_NONE;
}

static PyObject *
unmute(PyObject *self, PyObject *unused)
{
    if (listener_depth > 0)
        listener_depth--;
    Py_RETURN_NONE;
}

static PyObject *
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of time.perf_counter_ns on Linux */
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* 1 if obj.name is true, 0 if false, -1 on error */
static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return -1;
    int result = PyObject_IsTrue(value);
    Py_DECREF(value);
    return result;
}

/* The hooked item of `code` (borrowed), or NULL (with an error set only on a real error). */
static PyObject *
hooked_item(PyObject *code)
{
    if (code == last_code && last_code != NULL)
        return last_item;
    if (hooked == NULL)
        return NULL;
    PyObject *item = PyDict_GetItemWithError(hooked, code);
    if (item == NULL || !PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4)
        return NULL;
    last_code = code;
    last_item = item;
    return item;
}

static PyObject *
forget(PyObject *self, PyObject *unused)
{
    last_code = last_item = NULL;
    Py_RETURN_NONE;
}

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *h, *p, *t, *f, *l;
    PyTypeObject *a;
    if (!PyArg_ParseTuple(args, "O!O!OOOO!", &PyDict_Type, &h, &PyDict_Type, &p, &t, &f, &l,
                          &PyType_Type, &a))
        return NULL;
    if (find_fields(a) < 0)
        return NULL;
    Py_XSETREF(hooked, Py_NewRef(h));
    Py_XSETREF(pending, Py_NewRef(p));
    Py_XSETREF(own_thread, Py_NewRef(t));
    Py_XSETREF(full_start, Py_NewRef(f));
    Py_XSETREF(late_state, Py_NewRef(l));
    last_code = last_item = NULL;
    Py_RETURN_NONE;
}

static PyObject *
start_event(PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || hooked == NULL) {
        PyErr_SetString(PyExc_TypeError, "on_start(code, offset) before configure()");
        return NULL;
    }
    PyObject *code = args[0];
    PyObject *item = hooked_item(code);
    if (item == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *entry = PyTuple_GET_ITEM(item, 0);
    int on = attr_true(entry, s_listeners);
    if (on <= 0)
        return on < 0 ? NULL : Py_NewRef(Py_None);
    int silent = muted_here();
    if (silent != 0)
        return silent < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *frame = (PyObject *)PyEval_GetFrame(); /* borrowed: the hooked function's */
    if (frame == NULL)
        Py_RETURN_NONE;
    int known = PyDict_Contains(pending, frame);
    if (known != 0)
        return known < 0 ? NULL : Py_NewRef(Py_None);
    int before = attr_true(entry, s_before_listeners);
    if (before < 0)
        return NULL;
    if (PyTuple_GET_ITEM(item, 2) == Py_True && !before) {
        PyObject *start = now_ns(); /* arguments are read at the exit */
        if (start == NULL)
            return NULL;
        int failed = PyDict_SetItem(pending, frame, start);
        Py_DECREF(start);
        return failed ? NULL : Py_NewRef(Py_None);
    }
    return PyObject_CallFunctionObjArgs(full_start, code, frame, NULL);
}

/* The frame's variable `name`, or None when it is unbound (new reference; NULL on a real
   error). PyFrame_GetVar reads the one variable, instead of building the f_locals mapping. */
static PyObject *
local_value(PyObject *frame, PyObject *name)
{
    PyObject *value = PyFrame_GetVar((PyFrameObject *)frame, name);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_NameError)) {
        PyErr_Clear();
        return Py_NewRef(Py_None);
    }
    return value;
}

static int
append_names(PyObject *values, PyObject *locals, PyObject *names)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *value = local_value(locals, PyTuple_GET_ITEM(names, i));
        if (value == NULL || PyList_Append(values, value) < 0) {
            Py_XDECREF(value);
            return -1;
        }
        Py_DECREF(value);
    }
    return 0;
}

/* The (start, advice, listeners) state of a call whose start was only timed, built from the
   plan (positional, varargs, kwonly, varkw, has_target, site, keeps_target)
   that monitoring._argument_plan made: the same as monitoring._late_state, in C. */
static PyObject *
late_state_of(PyObject *code, PyObject *frame, PyObject *start)
{
    PyObject *item = hooked_item(code);
    if (item == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *plan = PyTuple_GET_ITEM(item, 3);
    if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 7)
        return PyObject_CallFunctionObjArgs(late_state, code, frame, start, NULL);
    PyObject *locals = frame, *values = NULL, *params = NULL, *advice = NULL, *listeners = NULL;
    PyObject *result = NULL, *target = Py_None;
    if ((values = PyList_New(0)) == NULL)
        goto done;
    if (append_names(values, locals, PyTuple_GET_ITEM(plan, 0)) < 0)
        goto done;
    if (PyTuple_GET_ITEM(plan, 1) != Py_None) { /* *args */
        PyObject *extra = local_value(locals, PyTuple_GET_ITEM(plan, 1));
        if (extra == NULL)
            goto done;
        int failed = 0;
        if (PyObject_IsTrue(extra) > 0) {
            PyObject *more = PySequence_List(extra);
            Py_ssize_t end = PyList_GET_SIZE(values);
            failed = more == NULL || PyList_SetSlice(values, end, end, more) < 0;
            Py_XDECREF(more);
        }
        Py_DECREF(extra);
        if (failed)
            goto done;
    }
    if (append_names(values, locals, PyTuple_GET_ITEM(plan, 2)) < 0)
        goto done;
    if (PyTuple_GET_ITEM(plan, 3) != Py_None) { /* **kwargs */
        PyObject *extra = local_value(locals, PyTuple_GET_ITEM(plan, 3));
        if (extra == NULL || PyList_Append(values, extra) < 0) {
            Py_XDECREF(extra);
            goto done;
        }
        Py_DECREF(extra);
    }
    Py_ssize_t first = 0;
    if (PyTuple_GET_ITEM(plan, 4) == Py_True && PyList_GET_SIZE(values) > 0) {
        first = 1;
        if (PyTuple_GET_ITEM(plan, 6) == Py_True)
            target = PyList_GET_ITEM(values, 0);
    }
    params = PyList_GetSlice(values, first, PyList_GET_SIZE(values));
    PyObject *as_tuple = params ? PyList_AsTuple(params) : NULL;
    Py_XSETREF(params, as_tuple);
    if (params == NULL || (advice = new_advice(PyTuple_GET_ITEM(plan, 5), params, target)) == NULL)
        goto done;
    if ((listeners = PyObject_GetAttr(PyTuple_GET_ITEM(item, 0), s_listeners)) == NULL)
        goto done;
    result = PyTuple_Pack(3, start, advice, listeners);
done:
    Py_XDECREF(values);
    Py_XDECREF(params);
    Py_XDECREF(advice);
    Py_XDECREF(listeners);
    return result;
}

/* The state of the call ending in the current frame (new reference), or NULL with no error. */
static PyObject *
take_state(PyObject *code)
{
    if (pending == NULL || PyDict_GET_SIZE(pending) == 0)
        return NULL;
    PyObject *frame = (PyObject *)PyEval_GetFrame();
    if (frame == NULL)
        return NULL;
    PyObject *state = PyDict_GetItemWithError(pending, frame);
    if (state == NULL)
        return NULL;
    Py_INCREF(state);
    if (PyDict_DelItem(pending, frame) < 0) {
        Py_DECREF(state);
        return NULL;
    }
    if (PyLong_CheckExact(state)) {
        PyObject *full = late_state_of(code, frame, state);
        Py_DECREF(state);
        if (full == NULL || full == Py_None) {
            Py_XDECREF(full);
            return NULL;
        }
        state = full;
    }
    return state;
}

/* Set the advice's exit fields and hand it to each listener's after(); a listener's
   Exception is swallowed (it must never reach the target), anything else propagates. */
static PyObject *
deliver(PyObject *state, int flag, int field, PyObject *value)
{
    PyObject *result = NULL;
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 3) {
        PyErr_SetString(PyExc_TypeError, "bad call state");
        return NULL;
    }
    PyObject *start = PyTuple_GET_ITEM(state, 0);
    PyObject *advice = PyTuple_GET_ITEM(state, 1);
    PyObject *listeners = PyTuple_GET_ITEM(state, 2);
    PyObject *now = now_ns();
    if (now == NULL)
        return NULL;
    PyObject *elapsed = PyNumber_Subtract(now, start);
    Py_DECREF(now);
    if (elapsed == NULL)
        return NULL;
    double ns = PyLong_AsDouble(elapsed);
    Py_DECREF(elapsed);
    PyObject *cost = PyFloat_FromDouble(ns / 1e6);
    if (cost == NULL)
        return NULL;
    if (Py_TYPE(advice) != advice_type) {
        Py_DECREF(cost);
        PyErr_SetString(PyExc_TypeError, "bad advice in call state");
        return NULL;
    }
    set_field(advice, F_COST, cost);
    set_field(advice, flag, Py_NewRef(Py_True));
    set_field(advice, field, Py_NewRef(value));
    if (!PyTuple_Check(listeners))
        Py_RETURN_NONE;
    listener_depth++;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(listeners); i++) {
        PyObject *answer =
            PyObject_CallMethodOneArg(PyTuple_GET_ITEM(listeners, i), s_after, advice);
        if (answer != NULL) {
            Py_DECREF(answer);
        }
        else if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
        }
        else {
            goto done;
        }
    }
    result = Py_NewRef(Py_None);
done:
    listener_depth--;
    return result;
}

static PyObject *
return_event(PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "on_return(code, offset, retval)");
        return NULL;
    }
    PyObject *state = take_state(args[0]);
    if (state == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *result = deliver(state, F_IS_RETURN, F_RETURN_OBJ, args[2]);
    Py_DECREF(state);
    return result;
}

static PyObject *
unwind_event(PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "on_unwind(code, offset, exception)");
        return NULL;
    }
    if (hooked_item(args[0]) == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *state = take_state(args[0]);
    if (state == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *result = deliver(state, F_IS_THROW, F_THROW_EXP, args[2]);
    Py_DECREF(state);
    return result;
}

/* The callbacks run inside the target's calls: an Exception of theirs must never reach it (a
   hook may go on another thread between two of their steps). KeyboardInterrupt and SystemExit
   are the program's own, delivered wherever it happens to be, and pass. */
static PyObject *
shielded(PyObject *result)
{
    if (result == NULL && PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return result;
}

static PyObject *
on_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return shielded(start_event(args, nargs));
}

static PyObject *
on_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return shielded(return_event(args, nargs));
}

static PyObject *
on_unwind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return shielded(unwind_event(args, nargs));
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(hooked, pending, own_thread, full_start, late_state, advice_type)"},
    {"muted", muted, METH_NOARGS, "True when hooks stay silent on this thread"},
    {"mute", mute, METH_NOARGS, "a listener starts on this thread"},
    {"unmute", unmute, METH_NOARGS, "a listener ended on this thread"},
    {"forget", forget, METH_NOARGS, "forget() after any change of the hooked table"},
    {"on_start", (PyCFunction)(void (*)(void))on_start, METH_FASTCALL, "PY_START callback"},
    {"on_return", (PyCFunction)(void (*)(void))on_return, METH_FASTCALL, "PY_RETURN callback"},
    {"on_unwind", (PyCFunction)(void (*)(void))on_unwind, METH_FASTCALL, "PY_UNWIND callback"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_hotpath",
    .m_doc = "C callbacks of the sys.monitoring backend",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__hotpath(void)
{
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_listeners, "listeners");
    INTERN(s_before_listeners, "before_listeners");
    INTERN(s_after, "after");
#undef INTERN
    return PyModule_Create(&module);
}
