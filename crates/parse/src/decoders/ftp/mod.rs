//! FTP servers: vsftpd, ProFTPD, Pure-FTPd and wu-ftpd (also BSD `ftpd`). Failed logins are
//! `user-login` failures with the account tried and the peer the server names; their PAM
//! lines go to `pam` as for any service.

pub mod proftpd;
pub mod pureftpd;
pub mod vsftpd;
pub mod wuftpd;
