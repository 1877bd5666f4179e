//! `logward completions SHELL` and `logward man`: shell completions and man pages generated
//! from the clap definitions, so they always match the binary. The .deb ships their output
//! (scripts/deb.sh).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Command};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (logward.8, logward-run.8, logward-collector-token.8 …) into this
    /// directory instead of printing logward(8).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The section of every page: logward is a system administration command.
pub const SECTION: &str = "8";

pub fn completions(mut cli: Command, args: CompletionsArgs) -> anyhow::Result<i32> {
    clap_complete::generate(args.shell, &mut cli, "logward", &mut std::io::stdout());
    Ok(0)
}

pub fn man(cli: Command, args: ManArgs) -> anyhow::Result<i32> {
    match args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            page(cli).render(&mut out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for name in write_pages(cli, &dir)? {
                println!("{}", dir.join(name).display());
            }
        }
    }
    Ok(0)
}

fn page(cmd: Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd).section(SECTION)
}

/// One page per command and subcommand, named after its path (`logward-collector-token.8`,
/// the names clap gives built subcommands). Returns the file names written.
fn write_pages(cli: Command, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    let mut written = Vec::new();
    let mut todo = vec![cli];
    while let Some(cmd) = todo.pop() {
        todo.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let man = page(cmd);
        man.generate_to(dir)
            .with_context(|| format!("cannot write a page into {}", dir.display()))?;
        written.push(man.get_filename());
    }
    written.sort();
    Ok(written)
}
