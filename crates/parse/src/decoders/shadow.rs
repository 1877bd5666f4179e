//! shadow-utils messages (useradd, userdel, usermod, groupadd, groupdel, gpasswd, passwd, chpasswd).

use super::Decoded;

pub fn is_shadow_program(program: &str) -> bool {
    matches!(
        program,
        "useradd"
            | "userdel"
            | "usermod"
            | "groupadd"
            | "groupdel"
            | "groupmod"
            | "gpasswd"
            | "passwd"
            | "chpasswd"
            | "chage"
            | "newusers"
            | "chsh"
            | "chfn"
    )
}

pub fn decode<'a>(program: &str, message: &'a str) -> Option<Decoded<'a>> {
    let _ = (program, message);
    None
}
