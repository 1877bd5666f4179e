//! Database servers: MySQL/MariaDB, Microsoft SQL Server and MongoDB. Failed logins are
//! `user-login` failures with the account tried and the client the server names.

pub mod mongodb;
pub mod mssql;
pub mod mysql;
