/* The attach bootstrap library (see shim.py): loaded into a target with dlopen, its
   livescope_attach_start() starts one detached thread that takes the GIL and runs the
   boot-<pid>.py file found beside this library. No Python headers: the C API is looked up in
   the target at run time, so one build serves every CPython version. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*int_void_fn)(void);
typedef void (*void_int_fn)(int);
typedef int (*run_fn)(const char *);

static int_void_fn gil_ensure;
static void_int_fn gil_release;
static run_fn run_string;
static char boot_dir[1024];

static void *boot_thread(void *unused) {
    char code[4096];
    int state;
    (void)unused;
    snprintf(code, sizeof code,
             "try:\n exec(compile(open('%s/boot-%d.py','rb').read(),'%s/boot-%d.py','exec'),"
             "{'__name__':'__livescope_boot__','__file__':'%s/boot-%d.py'})\n"
             "except OSError:\n pass\n",
             boot_dir, (int)getpid(), boot_dir, (int)getpid(), boot_dir, (int)getpid());
    state = gil_ensure();
    run_string(code);
    gil_release(state);
    return NULL;
}

/* 0: thread started; -1: CPython API not found; -2: interpreter not initialised;
   -3: the thread could not be created; -4: the library's own directory is unknown. */
int livescope_attach_start(void) {
    int_void_fn initialized;
    pthread_t tid;
    pthread_attr_t attr;
    Dl_info self;
    char path[sizeof boot_dir];
    int rc;
    if (!dladdr((void *)livescope_attach_start, &self) || !self.dli_fname
        || strlen(self.dli_fname) >= sizeof path) return -4;
    strcpy(path, self.dli_fname);
    strcpy(boot_dir, dirname(path));
    gil_ensure = (int_void_fn)dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    gil_release = (void_int_fn)dlsym(RTLD_DEFAULT, "PyGILState_Release");
    run_string = (run_fn)dlsym(RTLD_DEFAULT, "PyRun_SimpleString");
    initialized = (int_void_fn)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    if (!gil_ensure || !gil_release || !run_string || !initialized) return -1;
    if (!initialized()) return -2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, boot_thread, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -3;
}
