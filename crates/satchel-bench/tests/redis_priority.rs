//! Raising a server's priority for a run and restoring it, on a process of our own (a
//! `sleep` in a session of its own, so it has its own scheduler autogroup). Needs root (or
//! CAP_SYS_NICE) to set a negative nice, as `--boost` does.

use std::process::{Child, Command};
use std::time::Duration;

use satchel_bench::redis_priority::{autogroup, raise, thread_nice};

/// The pid of a `sleep 60` in a new session (`setsid` execs it in place when it need not fork).
fn start_sleeper() -> (Child, u32) {
    let mut child = Command::new("setsid")
        .args(["sleep", "60"])
        .spawn()
        .expect("setsid sleep");
    let pid = child.id();
    for _ in 0..200 {
        if satchel_bench::sys::process_name(pid).as_deref() == Some("sleep") {
            return (child, pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("process {pid} did not become sleep");
}

#[test]
fn raise_sets_every_thread_and_the_autogroup_and_drop_restores_them() {
    let (mut child, pid) = start_sleeper();
    let nice_before = thread_nice(pid).expect("nice");
    let group_before = autogroup(pid);
    {
        let guard = raise(pid, -7).expect("raise (needs root)");
        assert_eq!(thread_nice(pid), Ok(-7));
        if let Some((name, _)) = &group_before {
            assert_eq!(autogroup(pid), Some((name.clone(), -7)));
        }
        assert!(
            guard.note().contains(&format!("pid {pid}")),
            "{}",
            guard.note()
        );
        assert!(
            guard.note().contains("restored afterwards"),
            "{}",
            guard.note()
        );
    }
    assert_eq!(thread_nice(pid), Ok(nice_before));
    assert_eq!(autogroup(pid), group_before);
    child.kill().expect("kill our sleep");
    let _ = child.wait();
}

#[test]
fn raise_refuses_a_process_that_is_not_there() {
    // A pid above the kernel's maximum (4194304) cannot exist.
    assert!(raise(4_194_305, -1).is_err());
}
