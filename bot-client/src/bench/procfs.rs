//! A process's CPU time and resident memory, from `/proc/<pid>/stat` and
//! `/proc/<pid>/status`.

use std::time::Instant;

/// What one look at a process found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcSample {
    /// When it was read.
    pub at: Instant,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Reads process `pid`; `None` once it is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        at: Instant::now(),
        cpu_ticks: cpu_ticks(&stat)?,
        rss_bytes: rss_bytes(&status)?,
    })
}

/// utime plus stime (fields 14 and 15) of a `stat` line. The command name
/// (field 2) is in parentheses and may hold spaces, so fields are counted
/// from the last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of a `status` file, in bytes.
pub fn rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The share of one core the process used between two samples, with
/// `ticks_per_s` clock ticks a second.
pub fn cpu_share(before: &ProcSample, after: &ProcSample, ticks_per_s: u64) -> f64 {
    let wall = after.at.duration_since(before.at).as_secs_f64();
    if wall <= 0.0 || ticks_per_s == 0 {
        return 0.0;
    }
    after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_s as f64 / wall
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, Linux's value on
/// every common architecture, when it cannot be asked.
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (stadium (srv) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    1500 250 0 0 20 0 9 0 100 1000000 5000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(1750));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn resident_memory_is_read_in_bytes() {
        let status =
            "Name:\tstadium-server\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n";
        assert_eq!(rss_bytes(status), Some(20 * 1024 * 1024));
        assert_eq!(rss_bytes("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_share_is_ticks_over_wall_time() {
        let at = Instant::now();
        let before = ProcSample {
            at,
            cpu_ticks: 1000,
            rss_bytes: 0,
        };
        let after = ProcSample {
            at: at + Duration::from_secs(20),
            cpu_ticks: 2000,
            rss_bytes: 0,
        };
        assert!((cpu_share(&before, &after, 100) - 0.5).abs() < 1e-9);
        assert_eq!(cpu_share(&after, &after, 100), 0.0);
    }

    #[test]
    fn this_process_can_be_read() {
        let own = sample(std::process::id()).expect("our own /proc entry");
        assert!(own.rss_bytes > 0);
    }
}
