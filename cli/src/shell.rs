//! What the shell and `man` learn about wschat: completions for bash, zsh,
//! fish and PowerShell (clap_complete), and man pages (clap_mangen), all
//! generated from the definition `--help` prints, so they cannot drift.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Args;

/// `wschat completions SHELL`: the completion script.
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> Result<()> {
    let mut command = Args::command();
    clap_complete::generate(shell, &mut command, "wschat", out);
    out.flush().context("writing the completion script")
}

/// `wschat man`: the page `wschat(1)`, which lists the subcommands.
pub fn man(out: &mut impl Write) -> Result<()> {
    clap_mangen::Man::new(Args::command()).render(out).context("writing the man page")?;
    out.flush().context("writing the man page")
}

/// `wschat man --dir DIR`: `wschat.1` and a page per subcommand
/// (`wschat-deploy.1`, ...), as `man wschat-deploy` finds them. Returns the
/// files written.
pub fn man_pages(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let command = Args::command();
    let mut pages = vec![(dir.join("wschat.1"), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names are `&'static str` without its `string` feature; the
        // process ends right after.
        let name: &'static str = format!("wschat-{}", sub.get_name()).leak();
        pages.push((dir.join(format!("{name}.1")), sub.clone().name(name).display_name(name)));
    }
    let mut written = Vec::new();
    for (path, page) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(page).render(&mut text).context("rendering a man page")?;
        std::fs::write(&path, text).with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
