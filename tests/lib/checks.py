"""Result lines for the Python process tests (tests/crash, tests/cli): check() prints one
"ok   NAME" or "FAIL NAME" line (with the detail under a failure) and records failures; finish()
prints the summary line and returns the exit status. Import it after
`sys.path.insert(0, <tests/lib>)`."""

failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name, flush=True)
    if not cond:
        failures.append(name)
        if detail:
            print("     " + str(detail).replace("\n", "\n     "), flush=True)


def finish():
    print(f"{len(failures)} failed" if failures else "all passed", flush=True)
    return 1 if failures else 0
